"""A rule's filters: the list endpoint's filter names and values, checked by the
list's own FilterSet (logs/filtersets.py), so a rule matches exactly what
`GET /api/v1/logs` with the same parameters would list.

Values are strings as in a query string; for the comma-list filters (action,
severity, category) a JSON list of strings is accepted too and stored joined.
The time filters are not rule filters: a rule looks at every new event.
"""

from __future__ import annotations

from typing import Any

from auditlog_project.errors import Invalid, Message
from logs.filtersets import EventFilterSet

TIME_FILTERS = frozenset({"start_time", "end_time"})
RULE_FILTERS: tuple[str, ...] = tuple(
    name for name in EventFilterSet.base_filters if name not in TIME_FILTERS
)
LIST_FILTERS = frozenset({"action", "severity", "category"})


def normalised_filters(value: Any) -> dict[str, str]:
    """`value` as a rule's filters (names -> query-string values), or Invalid
    naming each bad filter as `filters.<name>`."""
    if not isinstance(value, dict):
        raise Invalid({"filters": [Message("Must be an object of list filters.", "invalid")]})
    errors: dict[str, list[Message]] = {}
    params: dict[str, str] = {}
    for name, raw in value.items():
        if name not in RULE_FILTERS:
            errors[name] = [
                Message(f"Unknown filter; one of {', '.join(RULE_FILTERS)}.", "unknown_filter")
            ]
            continue
        text = _as_text(name, raw)
        if text is None:
            errors[name] = [Message(_type_message(name), "invalid_type")]
        elif text.strip():
            params[name] = text.strip()
    if not errors:
        filterset = EventFilterSet(data=params)
        if not filterset.is_valid():
            errors = {
                name: [Message(str(m), getattr(m, "code", "invalid")) for m in messages]
                for name, messages in filterset.errors.items()
            }
    if errors:
        raise Invalid({"filters": errors})
    return params


def _as_text(name: str, raw: Any) -> str | None:
    if isinstance(raw, str):
        return raw
    if name in LIST_FILTERS and isinstance(raw, list) and all(isinstance(i, str) for i in raw):
        return ",".join(raw)
    return None


def _type_message(name: str) -> str:
    if name in LIST_FILTERS:
        return "Must be a string (comma-separated) or a list of strings."
    return "Must be a string."
