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
            # A key with a dot or bracket in it is quoted, so no two paths read alike.
            name = str(key) if not any(c in str(key) for c in '.[]"') else json.dumps(str(key))
            out.update(_flatten(inner, f"{prefix}.{name}" if prefix else name))
        return out
    if isinstance(value, list) and value:
        out = {}
        for index, inner in enumerate(value):
            out.update(_flatten(inner, f"{prefix}[{index}]"))
        return out
    return {prefix or "(value)": value}


def _shown(value: Any) -> str:
    """As JSON: the string "1" and the number 1 read differently."""
    if value is MISSING:
        return ""
    return json.dumps(value, ensure_ascii=False)


def _same(was: Any, now: Any) -> bool:
    """Equal and of the same JSON type (Python holds 1 == 1.0 == True)."""
    return type(was) is type(now) and was == now


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
        elif not _same(was, now):
            kind = "changed"
        else:
            kind = "same"
        rows.append(Change(path, kind, _shown(was), _shown(now)))
    return rows
