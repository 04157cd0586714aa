"""The input rules of an audit event (the contract's field table), hand-written.

Ingest is the hot path: a DRF serializer costs far more per event than these
plain functions (measured for 1,000-event bulk bodies; see docs/performance.md),
so the rules live here as one small function per kind of field. They collect
every error of every item, keyed by field, for `problems.flatten_errors`
(`events[3].ip_address`). Both ingest endpoints and any other writer use them.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from rest_framework.exceptions import ErrorDetail, ValidationError

from auditlog_project.problems import ContentTooLarge

from .choices import Severity

FUTURE_TOLERANCE = timedelta(minutes=5)
JSON_MAX_BYTES = 64 * 1024
JSON_MAX_DEPTH = 32
SEVERITIES = frozenset(Severity.values)
ACTION_RE = re.compile(r"[A-Z][A-Z0-9_]{0,63}")
# NUL, C0 and C1 controls, DEL, and lone surrogates (not encodable as UTF-8).
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
MESSAGE_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
JSON_NUL_RE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")  # PostgreSQL jsonb refuses \u0000

# name -> (min length, max length, required); all may be null when not required.
STRINGS: dict[str, tuple[int, int, bool]] = {
    "user_id": (1, 255, True),
    "session_id": (0, 255, False),
    "resource_type": (1, 128, True),
    "resource_id": (0, 255, False),
    "user_agent": (0, 1024, False),
    "message": (0, 8192, False),
    "request_id": (0, 128, False),
}
JSON_FIELDS = ("before", "after", "metadata")
INPUT_FIELDS = frozenset(
    {"id", "tenant_id", "timestamp", "action", "severity", "ip_address", *STRINGS, *JSON_FIELDS}
)
READ_ONLY_FIELDS = frozenset({"received_at"})


class Invalid(Exception):
    def __init__(self, message: str, code: str = "invalid") -> None:
        super().__init__(message)
        self.detail = ErrorDetail(message, code=code)


@dataclass(slots=True)
class NewEvent:
    """A validated, normalised event ready to store (JSON fields also as text)."""

    id: uuid.UUID
    id_given: bool
    timestamp: datetime
    timestamp_given: bool
    user_id: str
    session_id: str | None
    action: str
    resource_type: str
    resource_id: str | None
    severity: str
    ip_address: str | None
    user_agent: str | None
    message: str | None
    before: dict | None
    after: dict | None
    metadata: dict | None
    json_text: dict[str, str | None]
    request_id: str | None
    content_hash: bytes


def check_string(value: Any, low: int, high: int, *, message: bool = False) -> str:
    if not isinstance(value, str):
        raise Invalid("Must be a string.", "invalid_type")
    if len(value) < low:
        raise Invalid("Must not be empty." if low == 1 else f"Needs {low}+ characters.", "blank")
    if len(value) > high:
        raise Invalid(f"Must be at most {high} characters.", "max_length")
    if (MESSAGE_CONTROL_RE if message else CONTROL_RE).search(value):
        raise Invalid("Must not contain NUL or other control characters.", "control_character")
    return value


def check_uuid(value: Any) -> uuid.UUID:
    if not isinstance(value, str) or len(value) > 45:
        raise Invalid("Must be a UUID string.", "invalid_type")
    try:
        return uuid.UUID(value)
    except ValueError:
        raise Invalid("Must be a valid UUID.", "invalid") from None


def check_timestamp(value: Any, now: datetime) -> datetime:
    if not isinstance(value, str) or len(value) > 64:
        raise Invalid("Must be an ISO 8601 date-time string with an offset.", "invalid_type")
    try:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            raise Invalid("Must include a UTC offset (e.g. Z or +02:00).", "naive_datetime")
        parsed = parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise Invalid("Must be an ISO 8601 date-time with an offset.", "invalid") from None
    if parsed > now + FUTURE_TOLERANCE:
        raise Invalid("Must not be more than 5 minutes in the future.", "future")
    return parsed


def check_action(value: Any) -> str:
    if not isinstance(value, str):
        raise Invalid("Must be a string.", "invalid_type")
    upper = value.upper()
    if not value.isascii() or ACTION_RE.fullmatch(upper) is None:
        raise Invalid(
            "Must match ^[A-Z][A-Z0-9_]{0,63}$ (case-insensitive), e.g. LOGIN.", "invalid"
        )
    return upper


def check_severity(value: Any) -> str:
    upper = value.upper() if isinstance(value, str) else None
    if upper not in SEVERITIES:
        raise Invalid("Must be one of INFO, WARNING, ERROR, CRITICAL.", "invalid_choice")
    return upper


def check_ip(value: Any) -> str:
    if not isinstance(value, str) or len(value) > 45 or "%" in value:
        raise Invalid("Must be an IPv4 or IPv6 address.", "invalid")
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise Invalid("Must be an IPv4 or IPv6 address.", "invalid") from None


def check_json_object(value: Any) -> str:
    """The object as canonical JSON text, refused when too big, too deep or unstorable."""
    if not isinstance(value, dict):
        raise Invalid("Must be a JSON object.", "invalid_type")
    if json_depth(value) > JSON_MAX_DEPTH:
        raise Invalid(f"Must not nest deeper than {JSON_MAX_DEPTH} levels.", "too_deep")
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False, sort_keys=True)
        size = len(text.encode("utf-8"))
    except (ValueError, TypeError, UnicodeEncodeError):
        # non-finite numbers (1e999 parses as inf) or lone surrogates
        raise Invalid("Contains a value that cannot be stored as JSON.", "invalid") from None
    if size > JSON_MAX_BYTES:
        raise Invalid(f"Must be at most {JSON_MAX_BYTES} bytes as JSON.", "max_size")
    if "\\u0000" in text and JSON_NUL_RE.search(text):
        raise Invalid("Must not contain NUL characters.", "control_character")
    return text


def json_depth(value: dict | list) -> int:
    deepest, stack = 1, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > JSON_MAX_DEPTH:
            break
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
    return deepest


def _field(errors: dict, name: str, check, *args, **kwargs) -> Any:
    try:
        return check(*args, **kwargs)
    except Invalid as exc:
        errors[name] = [exc.detail]
        return None


def _unknown_fields(raw: dict, errors: dict) -> None:
    for name in raw:
        if name in READ_ONLY_FIELDS:
            errors[name] = [ErrorDetail("This field is read-only (server-set).", "read_only")]
        elif name not in INPUT_FIELDS:
            errors[str(name)] = [ErrorDetail("Unknown field.", "unknown_field")]


def _strings(raw: dict, errors: dict) -> dict[str, str | None]:
    values: dict[str, str | None] = {}
    for name, (low, high, required) in STRINGS.items():
        value = raw.get(name)
        if value is None:
            if required:
                errors[name] = [ErrorDetail("This field is required.", "required")]
            values[name] = None
            continue
        values[name] = _field(
            errors, name, check_string, value, low, high, message=name == "message"
        )
    return values


def _json_fields(raw: dict, errors: dict) -> dict[str, str | None]:
    return {
        name: None if raw.get(name) is None else _field(errors, name, check_json_object, raw[name])
        for name in JSON_FIELDS
    }


def _tenant(raw: dict, tenant_id: str, errors: dict) -> None:
    value = raw.get("tenant_id")
    if value is not None and value != tenant_id:
        errors["tenant_id"] = [
            ErrorDetail("Must name the request's tenant.", "invalid")
            if isinstance(value, str)
            else ErrorDetail("Must be a string.", "invalid_type")
        ]


def _content_hash(event_fields: list) -> bytes:
    text = json.dumps(event_fields, ensure_ascii=False, separators=(",", ":"))
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def event_errors_or_value(raw: Any, *, tenant_id: str, now: datetime):
    """(NewEvent, {}) for a valid event, (None, {field: [ErrorDetail]}) otherwise."""
    if not isinstance(raw, dict):
        return None, {"non_field_errors": [ErrorDetail("Must be a JSON object.", "invalid_type")]}
    errors: dict[str, list[ErrorDetail]] = {}
    _unknown_fields(raw, errors)
    _tenant(raw, tenant_id, errors)
    given_id = raw.get("id")
    event_id = None if given_id is None else _field(errors, "id", check_uuid, given_id)
    given_ts = raw.get("timestamp")
    ts = now if given_ts is None else _field(errors, "timestamp", check_timestamp, given_ts, now)
    if raw.get("action") is None:
        errors["action"] = [ErrorDetail("This field is required.", "required")]
        action = None
    else:
        action = _field(errors, "action", check_action, raw["action"])
    severity = raw.get("severity")
    severity = "INFO" if severity is None else _field(errors, "severity", check_severity, severity)
    ip = raw.get("ip_address")
    ip = None if ip is None else _field(errors, "ip_address", check_ip, ip)
    strings: dict[str, Any] = _strings(raw, errors)
    texts = _json_fields(raw, errors)
    if errors:
        return None, errors
    hashed = [action, severity, ip, *strings.values(), *texts.values()]
    return NewEvent(
        id=event_id or uuid.uuid4(),
        id_given=event_id is not None,
        timestamp=ts,
        timestamp_given=given_ts is not None,
        action=cast(str, action),  # not None once there are no errors
        severity=severity,
        ip_address=ip,
        before=raw.get("before"),
        after=raw.get("after"),
        metadata=raw.get("metadata"),
        json_text=texts,
        content_hash=_content_hash(hashed),
        **strings,
    ), {}


def parse_event(raw: Any, *, tenant_id: str, now: datetime) -> NewEvent:
    """One validated event, or ValidationError naming every bad field."""
    event, errors = event_errors_or_value(raw, tenant_id=tenant_id, now=now)
    if errors:
        raise ValidationError(errors)
    return event


def parse_bulk(raw: Any, *, tenant_id: str, now: datetime, max_events: int) -> list[NewEvent]:
    """The events of a bulk body, all valid, or ValidationError listing every bad item.

    More than `max_events` items is 413 before any item is looked at. One id used
    twice in the body with different content is an error of the later item.
    """
    if not isinstance(raw, dict):
        raise ValidationError(
            {"non_field_errors": [ErrorDetail("Must be a JSON object.", "invalid_type")]}
        )
    errors: dict[str, Any] = {}
    for name in raw:
        if name not in ("tenant_id", "events"):
            errors[str(name)] = [ErrorDetail("Unknown field.", "unknown_field")]
    _tenant(raw, tenant_id, errors)
    items = raw.get("events")
    if not isinstance(items, list) or not items:
        errors["events"] = [ErrorDetail("Must be a non-empty list of events.", "invalid")]
        raise ValidationError(errors)
    if len(items) > max_events:
        raise ContentTooLarge(f"A bulk request takes at most {max_events} events.")
    events, item_errors = _parse_items(items, tenant_id=tenant_id, now=now)
    if item_errors:
        errors["events"] = item_errors
    if errors:
        raise ValidationError(errors)
    return events


def _parse_items(items: list, *, tenant_id: str, now: datetime) -> tuple[list[NewEvent], list]:
    events: list[NewEvent] = []
    item_errors: list[dict] = []
    first_seen: dict[uuid.UUID, NewEvent] = {}
    for raw in items:
        event, errors = event_errors_or_value(raw, tenant_id=tenant_id, now=now)
        if event is not None and event.id_given:
            earlier = first_seen.setdefault(event.id, event)
            if earlier is not event and not same_content(earlier, event):
                errors = {"id": [ErrorDetail("Used twice with different content.", "duplicate")]}
        item_errors.append(errors)
        if event is not None:
            events.append(event)
    return events, item_errors if any(item_errors) else []


def same_content(stored: NewEvent, retry: NewEvent) -> bool:
    """A retry matches when its content is equal and any timestamp it names is equal."""
    return compatible(stored.timestamp, stored.content_hash, retry)


def compatible(timestamp: datetime, content_hash: bytes, retry: NewEvent) -> bool:
    if bytes(content_hash) != retry.content_hash:
        return False
    return not retry.timestamp_given or retry.timestamp == timestamp
