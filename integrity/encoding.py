"""The bytes that are sealed: an event's canonical record and a checkpoint's body.

No Django here (the standalone verifier imports this module).

An event's record is its stored row, as stored: every column of
`logs.models.Event` (`logs.fields.EVENT_FIELDS`) whose value is not null,
written as compact JSON with sorted keys (`json.dumps(sort_keys=True,
separators=(",", ":"), ensure_ascii=False)`) and encoded as UTF-8:

- ids and text columns as their text; `ip_address` as the address;
- times as UTC `YYYY-MM-DDTHH:MM:SS.ffffffZ` (always six fraction digits);
- jsonb columns (`before`, `after`, `metadata`, `masked`) as the JSON value
  PostgreSQL returns (numbers as the API reads them: integers, or IEEE doubles);
- a masked value as stored (the mask, never the original: masking happens
  before storage); an encrypted field as its sealed string (`"\\u0001v1.<version>.<base64>"`),
  never its plaintext. Crypto-shredding a tenant destroys the keys, not the
  ciphertext, so every record of the tenant still verifies.

A null column is left out, so a nullable column added later does not change
the records of events stored before it.

A checkpoint's body is the signed statement `auditlog-checkpoint/v1\\n`
followed by the compact sorted JSON of `tenant_id`, `tree_size`, `root` (hex),
`timestamp` (as above), `previous` (hex SHA-256 of the previous checkpoint's
body, "" for the tenant's first) and `key_id`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

CHECKPOINT_PREFIX = b"auditlog-checkpoint/v1\n"
CHECKPOINT_FIELDS = ("tenant_id", "tree_size", "root", "timestamp", "previous", "key_id")


def canonical_json(value: Any) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def utc_text(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_utc(text: str) -> datetime:
    """A time written by `utc_text` or the API (ISO 8601, `Z` or an offset)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _stored(value: Any) -> Any:
    kind = type(value)
    if kind is str or kind is int or kind is dict or kind is list:  # the common cases first
        return value
    if isinstance(value, datetime):
        return utc_text(value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, str | int | float | bool | list | dict):
        return value
    return str(value)  # inet (ipaddress objects)


def event_record(row: Mapping[str, Any]) -> bytes:
    """The canonical record of a stored event row (column name -> stored value)."""
    return canonical_json({name: _stored(v) for name, v in row.items() if v is not None})


def checkpoint_body(checkpoint: Mapping[str, Any]) -> bytes:
    """The signed bytes of a checkpoint (its CHECKPOINT_FIELDS)."""
    fields = {name: checkpoint[name] for name in CHECKPOINT_FIELDS}
    if isinstance(fields["timestamp"], datetime):
        fields["timestamp"] = utc_text(fields["timestamp"])
    return CHECKPOINT_PREFIX + canonical_json(fields)


def checkpoint_hash(checkpoint: Mapping[str, Any]) -> str:
    """What the next checkpoint names as `previous`."""
    return hashlib.sha256(checkpoint_body(checkpoint)).hexdigest()
