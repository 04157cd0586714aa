"""The stored form of an encrypted field, and sealing and opening one value.

A sealed value is one string, stored in the field's own column (jsonb for
`before`, `after`, `metadata`; text for `message`, `user_agent`):

    "\\x01" "v1." <key version> "." base64(nonce(12) || AES-256-GCM ciphertext+tag)

It cannot be mistaken for client data: clients may store only JSON objects
in the jsonb columns (a string there is always sealed) and no control
character in the text columns (so no client string starts with U+0001).
The associated data binds the ciphertext to its place:
`auditlog/v1|<tenant>|<event id>|<field>|<key version>`; a ciphertext copied
to another tenant, another event or another field fails to open.
See docs/adr/0017-field-encryption-sealed-in-place.md.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from typing import TypeGuard

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MARK = "\x01"
PREFIX = MARK + "v1."
NONCE_BYTES = 12
SHREDDED = "[shredded]"
UNDECRYPTABLE = "[undecryptable]"


class Unopenable(Exception):
    """The value is not a well-formed sealed value, or its tag does not verify."""


def is_sealed(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and value.startswith(MARK)


def associated_data(tenant_id: str, event_id: str, field: str, version: int) -> bytes:
    return f"auditlog/v1|{tenant_id}|{event_id}|{field}|{version}".encode()


# PostgreSQL's spacing (`{"a": 1, "b": 2}`), so an export cell of a decrypted
# object reads like one of a plain jsonb column. One encoder, built once
# (json.dumps with options builds one per call).
_JSON = json.JSONEncoder(ensure_ascii=False)


def plaintext(field_is_json: bool, value: object) -> bytes:
    if field_is_json:
        return _JSON.encode(value).encode()
    return str(value).encode()


def seal(aead: AESGCM, version: int, data: bytes, aad: bytes) -> str:
    nonce = os.urandom(NONCE_BYTES)
    sealed = nonce + aead.encrypt(nonce, data, aad)
    return f"{PREFIX}{version}.{base64.b64encode(sealed).decode('ascii')}"


def version_of(token: str) -> int:
    """The key version a sealed value names; Unopenable when malformed."""
    head, dot, _ = token[len(PREFIX) :].partition(".")
    if not token.startswith(PREFIX) or not dot or not head.isdigit() or len(head) > 9:
        raise Unopenable("not a v1 sealed value")
    return int(head)


def open_sealed(aead: AESGCM, token: str, aad: bytes) -> bytes:
    body = token[len(PREFIX) :].partition(".")[2]
    try:
        sealed = base64.b64decode(body, validate=True)
        return aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad)
    except (InvalidTag, binascii.Error, ValueError):
        raise Unopenable("authentication failed") from None
