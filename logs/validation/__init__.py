"""The input rules of an audit event (the contract's field table), hand-written.

Ingest is the hot path: a DRF serializer costs far more per event than these
plain functions (measured for 1,000-event bulk bodies; see docs/performance.md),
so the rules are plain functions: one check per kind of field (checks.py)
and one rule per column (RULES, here). They collect every error of every
item, keyed by field, for `problems.flatten_errors` (`events[3].ip_address`).
Both ingest endpoints and any other writer use them.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, cast

from django.core.exceptions import ImproperlyConfigured

from auditlog_project.errors import Invalid, Message, TooLarge
from masking.engine import Masker
from masking.selectors import builtin_masker

from .. import fields
from .checks import (
    JSON_MAX_BYTES,
    BadValue,
    check_action,
    check_ip,
    check_json_object,
    check_severity,
    check_string,
    check_timestamp,
    check_uuid,
    oldest_accepted,
)

__all__ = [
    "RULES",
    "NewEvent",
    "Rule",
    "oldest_accepted",
    "parse_bulk",
    "parse_event",
    "retry_matches",
]


@dataclass(slots=True)
class NewEvent:
    """A validated, normalised event ready to store.

    `values` holds every client-set column (fields.INPUT_FIELDS) by name:
    normalised (action and severity upper case, the IP as Python writes it),
    None when not given; JSON objects as sent, then masked; and `masked`, the
    paths the masking rules replaced (masking.engine). The original of a
    masked value is gone: nothing after validation ever sees it.
    """

    values: dict[str, Any]
    id_given: bool
    timestamp_given: bool
    content_hash: bytes

    @property
    def id(self) -> uuid.UUID:
        return self.values["id"]

    @property
    def timestamp(self) -> datetime:
        return self.values["timestamp"]


@dataclass(frozen=True, slots=True)
class Rule:
    """The input rule of one client-set column, and how the API documents it.

    `check` normalises a given (non-null) value or raises BadValue; a missing
    or null value is an error when `required`, else `default`. `json`: the
    column stores the object as sent, and `check` returns its canonical text
    (for the content hash). `pattern`, `max_length` and `doc` describe the
    rule in the OpenAPI schema (logs/api/serializers.py).
    """

    check: Callable[[Any], Any]
    required: bool = False
    default: Any = None
    json: bool = False
    pattern: str | None = None
    min_length: int = 0
    max_length: int | None = None
    doc: str = ""


def _no_check(value: Any) -> Any:  # id and timestamp: parsed in event_errors_or_value
    return value


def _string(name: str, *, required: bool = False, doc: str = "", max_length: int = 0) -> Rule:
    """A string rule; its maximum length is the model's unless the column is text."""
    high = max_length or cast(int, fields.field(name).max_length)
    low = 1 if required else 0
    check = partial(check_string, low=low, high=high, message=name == "message")
    return Rule(check, required=required, min_length=low, max_length=high, doc=doc)


def _json(doc: str = f"At most {JSON_MAX_BYTES // 1024} KiB.") -> Rule:
    return Rule(check_json_object, json=True, doc=doc)


# One rule per client-set column (fields.INPUT_FIELDS, checked at import), in
# the order of the content hash: id and timestamp first (not hashed), then the
# hashed columns. The hash of a stored event must never change, so a rule
# added later goes at the end (see _content_hash).
RULES: dict[str, Rule] = {
    "id": Rule(_no_check, doc="Client-chosen id: makes the write idempotent per tenant."),
    "timestamp": Rule(
        _no_check,
        doc="With an offset; at most 5 minutes in the future, and at most the tenant's "
        "`retention_days` and EVENTS_MAX_AGE_DAYS (default 400) days in the past: "
        "otherwise 400 with code `future` or `too_old`. Default: time received.",
    ),
    "action": Rule(
        check_action,
        required=True,
        pattern=r"^[A-Za-z][A-Za-z0-9_]{0,63}$",
        doc="Case-insensitive, stored upper case: CREATE, VIEW, LOGIN, ...",
    ),
    "severity": Rule(check_severity, default="INFO"),
    "ip_address": Rule(check_ip),
    "user_id": _string(
        "user_id",
        required=True,
        doc="The actor. The `user` role may only send its own username (403 otherwise).",
    ),
    "session_id": _string("session_id"),
    "resource_type": _string("resource_type", required=True),
    "resource_id": _string("resource_id"),
    "user_agent": _string("user_agent"),
    "message": _string("message", max_length=8192, doc="Tab and newline are allowed here."),
    "request_id": _string("request_id", doc="Correlation id."),
    "before": _json(),
    "after": _json(),
    "metadata": _json(),
}
if set(RULES) != set(fields.INPUT_FIELDS):
    raise ImproperlyConfigured(
        "logs.validation.RULES must have one rule per client-set column of logs.models.Event: "
        f"{sorted(set(RULES) ^ set(fields.INPUT_FIELDS))}"
    )
HASHED = tuple(name for name in RULES if name not in ("id", "timestamp"))
# The columns hashed as a plain list since the first release; a later rule
# enters the hash only when given (see _content_hash).
HASH_BASE = HASHED[:13]
INPUT_NAMES = frozenset({"tenant_id", *RULES})
READ_ONLY_FIELDS = fields.SERVER_SET - {"tenant_id"}


# The one server-set column a client may name, with the one value it may send:
# `access` and `admin` events are the service's own (logs/audit.py).
CLIENT_CATEGORY = "application"
CATEGORY_ERROR = Message(
    "Only 'application' may be sent: access and admin events are recorded by the service.",
    "read_only",
)


def _unknown_fields(raw: dict, errors: dict) -> None:
    for name in raw:
        if name == "category":
            if raw[name] != CLIENT_CATEGORY:
                errors[name] = [CATEGORY_ERROR]
        elif name in READ_ONLY_FIELDS:
            errors[name] = [Message("This field is read-only (server-set).", "read_only")]
        elif name not in INPUT_NAMES:
            errors[str(name)] = [Message("Unknown field.", "unknown_field")]


def _checked(raw: dict, errors: dict, values: dict[str, Any]) -> list:
    """Check every hashed column into `values`; the values to hash (JSON as text)."""
    hashed = []
    for name in HASHED:
        rule, value = RULES[name], raw.get(name)
        if value is None:
            if rule.required:
                errors[name] = [Message("This field is required.", "required")]
            values[name] = rule.default
            hashed.append(rule.default)
            continue
        try:
            checked = rule.check(value)
        except BadValue as exc:
            errors[name] = [exc.detail]
            checked = None
        values[name] = value if rule.json else checked
        hashed.append(checked)
    return hashed


def _masked(values: dict[str, Any], hashed: list, masker: Masker) -> list[str]:
    """Mask `values` in place; the hashed values follow, so the content hash is
    the masked event's (a retry masks the same way and still matches)."""
    masked = masker.mask_event(values)
    if masked:
        for name in {path.split(".", 1)[0].split("[", 1)[0] for path in masked}:
            value = values[name]
            hashed[HASHED.index(name)] = check_json_object(value) if RULES[name].json else value
    return masked


def _content_hash(hashed: list) -> bytes:
    """The hash of an event's content, as stored with its key.

    HASH_BASE is hashed as a plain list of values; a column added later
    enters as [name, value] only when given, so an event stored before the
    column existed still matches its retry.
    """
    parts = hashed[: len(HASH_BASE)]
    parts += [
        [name, value]
        for name, value in zip(HASHED[len(HASH_BASE) :], hashed[len(HASH_BASE) :], strict=True)
        if value is not None
    ]
    text = json.dumps(parts, ensure_ascii=False, separators=(",", ":"))
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def event_errors_or_value(
    raw: Any, *, now: datetime, oldest: datetime | None = None, masker: Masker | None = None
):
    """(NewEvent, {}) for a valid event, (None, {field: [Message]}) otherwise.

    The timestamp must lie in [oldest, now + 5 minutes]; `oldest` defaults to
    oldest_accepted(now), the bound without the tenant's retention. A valid
    event is masked by `masker` (default: the built-in rules) before its hash
    is taken. Error messages never quote a value, so nothing unmasked leaves."""
    if not isinstance(raw, dict):
        return None, {"non_field_errors": [Message("Must be a JSON object.", "invalid_type")]}
    errors: dict[str, list[Message]] = {}
    _unknown_fields(raw, errors)
    given_id = raw.get("id")
    event_id = None if given_id is None else _field(errors, "id", check_uuid, given_id)
    given_ts = raw.get("timestamp")
    ts = (
        now
        if given_ts is None
        else _field(errors, "timestamp", check_timestamp, given_ts, now, oldest)
    )
    values: dict[str, Any] = {"id": event_id or uuid.uuid4(), "timestamp": ts}
    hashed = _checked(raw, errors, values)
    if errors:
        return None, errors
    values["masked"] = _masked(values, hashed, masker or builtin_masker())
    return NewEvent(
        values=values,
        id_given=event_id is not None,
        timestamp_given=given_ts is not None,
        content_hash=_content_hash(hashed),
    ), {}


def _field(errors: dict, name: str, check, *args) -> Any:
    try:
        return check(*args)
    except BadValue as exc:
        errors[name] = [exc.detail]
        return None


def parse_event(
    raw: Any, *, now: datetime, oldest: datetime | None = None, masker: Masker | None = None
) -> NewEvent:
    """One validated and masked event, or Invalid naming every bad field."""
    event, errors = event_errors_or_value(raw, now=now, oldest=oldest, masker=masker)
    if errors:
        raise Invalid(errors)
    return event


def parse_bulk(
    raw: Any,
    *,
    now: datetime,
    max_events: int,
    oldest: datetime | None = None,
    masker: Masker | None = None,
) -> list[NewEvent]:
    """The events of a bulk body, all valid, or Invalid listing every bad item.

    More than `max_events` items is 413 before any item is looked at. One id used
    twice in the body with different content is an error of the later item.
    """
    if not isinstance(raw, dict):
        raise Invalid({"non_field_errors": [Message("Must be a JSON object.", "invalid_type")]})
    errors: dict[str, Any] = {}
    for name in raw:
        if name not in ("tenant_id", "events"):
            errors[str(name)] = [Message("Unknown field.", "unknown_field")]
    items = raw.get("events")
    if not isinstance(items, list) or not items:
        errors["events"] = [Message("Must be a non-empty list of events.", "invalid")]
        raise Invalid(errors)
    if len(items) > max_events:
        raise TooLarge(f"A bulk request takes at most {max_events} events.")
    events, item_errors = _parse_items(items, now=now, oldest=oldest, masker=masker)
    if item_errors:
        errors["events"] = item_errors
    if errors:
        raise Invalid(errors)
    return events


def _parse_items(
    items: list, *, now: datetime, oldest: datetime | None, masker: Masker | None
) -> tuple[list[NewEvent], list]:
    events: list[NewEvent] = []
    item_errors: list[dict] = []
    first_seen: dict[uuid.UUID, NewEvent] = {}
    for raw in items:
        event, errors = event_errors_or_value(raw, now=now, oldest=oldest, masker=masker)
        if event is not None and event.id_given:
            earlier = first_seen.setdefault(event.id, event)
            if earlier is not event and not same_content(earlier, event):
                errors = {"id": [Message("Used twice with different content.", "duplicate")]}
        item_errors.append(errors)
        if event is not None:
            events.append(event)
    return events, item_errors if any(item_errors) else []


def same_content(stored: NewEvent, retry: NewEvent) -> bool:
    """Two events of one body with the same id: the later is a retry of the first."""
    return retry_matches(stored.timestamp, stored.content_hash, retry)


def retry_matches(timestamp: datetime, content_hash: bytes, retry: NewEvent) -> bool:
    """A retry matches a stored event when its content hash is equal and any
    timestamp it names is the stored one (an omitted timestamp defaults to now)."""
    if bytes(content_hash) != retry.content_hash:
        return False
    return not retry.timestamp_given or retry.timestamp == timestamp
