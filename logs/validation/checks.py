"""The checks of one value per kind of field: strings, ids, times, actions,
severities, addresses, JSON objects. Each returns the normalised value or
raises BadValue; logs.validation applies them per column and collects errors.
"""

from __future__ import annotations

import ipaddress
import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings

from auditlog_project.errors import Message

from ..choices import ACTION_RE, CONTROL_RE, Severity

FUTURE_TOLERANCE = timedelta(minutes=5)
JSON_MAX_BYTES = 64 * 1024
JSON_MAX_DEPTH = 32
SEVERITIES = frozenset(Severity.values)
# `message` may hold tab, newline and carriage return; other strings no control at all.
MESSAGE_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
JSON_NUL_RE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")  # PostgreSQL jsonb refuses \u0000


class BadValue(Exception):
    """One value breaks its field's rule; collected into errors.Invalid."""

    def __init__(self, message: str, code: str = "invalid") -> None:
        super().__init__(message)
        self.detail = Message(message, code)


def check_string(value: Any, low: int, high: int, *, message: bool = False) -> str:
    if not isinstance(value, str):
        raise BadValue("Must be a string.", "invalid_type")
    if len(value) < low:
        raise BadValue("Must not be empty." if low == 1 else f"Needs {low}+ characters.", "blank")
    if len(value) > high:
        raise BadValue(f"Must be at most {high} characters.", "max_length")
    if (MESSAGE_CONTROL_RE if message else CONTROL_RE).search(value):
        raise BadValue("Must not contain NUL or other control characters.", "control_character")
    return value


def check_uuid(value: Any) -> uuid.UUID:
    if not isinstance(value, str) or len(value) > 45:
        raise BadValue("Must be a UUID string.", "invalid_type")
    try:
        return uuid.UUID(value)
    except ValueError:
        raise BadValue("Must be a valid UUID.", "invalid") from None


def oldest_accepted(now: datetime, retention_days: int | None = None) -> datetime:
    """The oldest timestamp an event may carry: EVENTS_MAX_AGE_DAYS before `now`, or
    the tenant's retention when shorter (an older event would already be due for
    deletion). Every such day has a partition ready (logs/partitions.py)."""
    days = settings.EVENTS_MAX_AGE_DAYS
    if retention_days is not None:
        days = min(days, retention_days)
    return now - timedelta(days=days)


def check_timestamp(value: Any, now: datetime, oldest: datetime | None = None) -> datetime:
    if not isinstance(value, str) or len(value) > 64:
        raise BadValue("Must be an ISO 8601 date-time string with an offset.", "invalid_type")
    try:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            raise BadValue("Must include a UTC offset (e.g. Z or +02:00).", "naive_datetime")
        parsed = parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise BadValue("Must be an ISO 8601 date-time with an offset.", "invalid") from None
    if parsed > now + FUTURE_TOLERANCE:
        raise BadValue("Must not be more than 5 minutes in the future.", "future")
    low = oldest_accepted(now) if oldest is None else oldest
    if parsed < low:
        raise BadValue(
            f"Must not be more than {(now - low).days} days in the past "
            f"(not before {low:%Y-%m-%dT%H:%M:%SZ}).",
            "too_old",
        )
    return parsed


def check_action(value: Any) -> str:
    if not isinstance(value, str):
        raise BadValue("Must be a string.", "invalid_type")
    upper = value.upper()
    if not value.isascii() or ACTION_RE.fullmatch(upper) is None:
        raise BadValue(
            "Must match ^[A-Z][A-Z0-9_]{0,63}$ (case-insensitive), e.g. LOGIN.", "invalid"
        )
    return upper


def check_severity(value: Any) -> str:
    upper = value.upper() if isinstance(value, str) else None
    if upper not in SEVERITIES:
        raise BadValue("Must be one of INFO, WARNING, ERROR, CRITICAL.", "invalid_choice")
    return upper


def check_ip(value: Any) -> str:
    if not isinstance(value, str) or len(value) > 45 or "%" in value:
        raise BadValue("Must be an IPv4 or IPv6 address.", "invalid")
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise BadValue("Must be an IPv4 or IPv6 address.", "invalid") from None


def check_json_object(value: Any) -> str:
    """The object as canonical JSON text, refused when too big, too deep or unstorable."""
    if not isinstance(value, dict):
        raise BadValue("Must be a JSON object.", "invalid_type")
    if json_depth(value) > JSON_MAX_DEPTH:
        raise BadValue(f"Must not nest deeper than {JSON_MAX_DEPTH} levels.", "too_deep")
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False, sort_keys=True)
        size = len(text.encode("utf-8"))
    except (ValueError, TypeError, UnicodeEncodeError):
        # non-finite numbers (1e999 parses as inf) or lone surrogates
        raise BadValue("Contains a value that cannot be stored as JSON.", "invalid") from None
    if size > JSON_MAX_BYTES:
        raise BadValue(f"Must be at most {JSON_MAX_BYTES} bytes as JSON.", "max_size")
    if "\\u0000" in text and JSON_NUL_RE.search(text):
        raise BadValue("Must not contain NUL characters.", "control_character")
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
