"""Encrypting an event's fields at ingest and decrypting them on every read path.

- `seal_batch`: ingest (logs/services.py) seals the tenant's chosen fields
  of each batch item before the INSERT; nothing else is changed.
- `open_rows`: stored rows as selectors return them (list, get, retry answer,
  stream replay, archive restore) get their sealed fields back in clear.
- `open_export_chunk`: export rows (PostgreSQL text, logs/wire.py) get only
  their sealed cells opened; other cells are not touched.

A value that does not open reads `"[undecryptable]"` and is logged as an
integrity error (tenant, event id, field; never the value); a value whose key
was shredded reads `"[shredded]"`. Neither fails the request.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator

from django.conf import settings

from auditlog_project.errors import Unavailable
from logs.fields import EVENT_FIELDS

from . import envelope, keyring
from .envelope import SHREDDED, UNDECRYPTABLE, Unopenable
from .policy import ENCRYPTABLE, JSON_FIELDS

logger = logging.getLogger("encryption.integrity")

_ID = EVENT_FIELDS.index("id")
_TENANT = EVENT_FIELDS.index("tenant_id")
_EXPORT_CELLS = tuple((EVENT_FIELDS.index(name), name) for name in ENCRYPTABLE)
_JSON_SEALED_START = '"\\u0001'  # how PostgreSQL writes a sealed jsonb string as text


def seal_batch(tenant_id: str, items: list[dict]) -> None:
    """Seal, in place, the fields the tenant encrypts in each item (`id` as text)."""
    if not settings.ENCRYPTION_ENABLED or not items:
        return
    try:
        key = keyring.active_key(tenant_id)
    except keyring.KeyUnavailable as error:
        # Nothing of the tenant can be written (its events, nor the access event
        # a read must record), so the request fails cleanly instead of a 500.
        logger.error("integrity: no usable data key for tenant %s: %s", tenant_id, error)
        raise Unavailable(
            "The tenant's encryption key cannot be used now (its master key is not "
            "configured or refuses it); nothing was stored.",
            code="encryption-key-unavailable",
            retry_after=60,
        ) from None
    for name in key.fields:
        is_json = name in JSON_FIELDS
        for item in items:
            value = item.get(name)
            if value is not None:
                aad = envelope.associated_data(tenant_id, item["id"], name, key.version)
                data = envelope.plaintext(is_json, value)
                item[name] = envelope.seal(key.aead, key.version, data, aad)


def open_value(tenant_id: str, event_id: str, field: str, token: str) -> bytes | str:
    """The plaintext bytes of a sealed value, or the SHREDDED / UNDECRYPTABLE text."""
    try:
        version = envelope.version_of(token)
        aead = keyring.key_for(tenant_id, version)
        if aead is None:
            return SHREDDED
        aad = envelope.associated_data(tenant_id, event_id, field, version)
        return envelope.open_sealed(aead, token, aad)
    except (Unopenable, keyring.KeyUnavailable) as error:
        logger.error(
            "integrity: field %s of event %s (tenant %s) does not decrypt: %s",
            field,
            event_id,
            tenant_id,
            error,
        )
        return UNDECRYPTABLE


def open_rows(rows: Iterable[dict]) -> None:
    """Open, in place, the sealed fields of stored rows (selector dicts)."""
    for row in rows:
        for name in ENCRYPTABLE:
            token = row.get(name)
            if envelope.is_sealed(token):
                opened = open_value(row["tenant_id"], str(row["id"]), name, token)
                if opened.__class__ is str:
                    row[name] = opened
                elif name in JSON_FIELDS:
                    row[name] = json.loads(opened)
                else:
                    row[name] = opened.decode()  # type: ignore[union-attr]


def open_export_chunk(chunk: list[tuple]) -> list[tuple]:
    """Export rows with their sealed cells opened; rows without any stay as they are."""
    return [_open_export_row(row) for row in chunk]


def open_export_chunks(chunks: Iterable[list[tuple]]) -> Iterator[list[tuple]]:
    for chunk in chunks:
        yield open_export_chunk(chunk)


def _open_export_row(row: tuple) -> tuple:
    cells = None
    for index, name in _EXPORT_CELLS:
        cell = row[index]
        if cell is None:
            continue
        is_json = name in JSON_FIELDS
        if is_json and cell.startswith(_JSON_SEALED_START):
            token = json.loads(cell)
        elif not is_json and cell.startswith(envelope.MARK):
            token = cell
        else:
            continue
        opened = open_value(row[_TENANT], row[_ID], name, token)
        if cells is None:
            cells = list(row)
        if opened.__class__ is str:
            cells[index] = json.dumps(opened) if is_json else opened
        else:
            cells[index] = opened.decode()  # type: ignore[union-attr]
    return row if cells is None else tuple(cells)
