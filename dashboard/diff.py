"""A readable before/after diff of an event: one row per changed leaf."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

MISSING = object()


@dataclass(frozen=True)
class Change:
    path: str
    kind: str  # added, removed, changed, same
    before: str
    after: str


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Leaves by dotted path (lists by index); an empty dict or list is a leaf."""
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key, inner in value.items():
            out.update(_flatten(inner, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list) and value:
        out = {}
        for index, inner in enumerate(value):
            out.update(_flatten(inner, f"{prefix}[{index}]"))
        return out
    return {prefix or "(value)": value}


def _shown(value: Any) -> str:
    if value is MISSING:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def changes(before: Any, after: Any) -> list[Change]:
    """Every leaf of before and after, in path order, with what happened to it."""
    if before is None and after is None:
        return []
    old = _flatten(before) if before is not None else {}
    new = _flatten(after) if after is not None else {}
    rows = []
    for path in sorted(old.keys() | new.keys()):
        was, now = old.get(path, MISSING), new.get(path, MISSING)
        if was is MISSING:
            kind = "added"
        elif now is MISSING:
            kind = "removed"
        elif was != now:
            kind = "changed"
        else:
            kind = "same"
        rows.append(Change(path, kind, _shown(was), _shown(now)))
    return rows
