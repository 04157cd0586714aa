"""Ed25519 checkpoint signatures (`cryptography`), and key ids.

No Django here (the standalone verifier imports this module). A public key is
published as base64 of its 32 raw bytes; its `key_id` is the hex of the first
16 bytes of SHA-256 over those bytes, so a key id names exactly one key.
Signatures are base64 of the 64 raw bytes, over `encoding.checkpoint_body`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .encoding import checkpoint_body


class BadSignature(ValueError):
    """The signature does not verify under the named key, or the key is unknown."""


def private_key_from_secret(secret: str) -> Ed25519PrivateKey:
    """The installation's signing key, derived from its secret (any string of 32+
    characters: the seed is SHA-256 of it), so it is generated and kept like the
    other secrets of an installation."""
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(secret.encode()).digest())


def public_bytes(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(public: bytes) -> str:
    return hashlib.sha256(public).digest()[:16].hex()


def public_text(public: bytes) -> str:
    return base64.b64encode(public).decode("ascii")


def public_from_text(text: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error:
        raise BadSignature("a public key is base64 of 32 bytes") from None
    if len(raw) != 32:
        raise BadSignature("a public key is base64 of 32 bytes")
    return raw


def sign(key: Ed25519PrivateKey, checkpoint: Mapping[str, Any]) -> str:
    return base64.b64encode(key.sign(checkpoint_body(checkpoint))).decode("ascii")


def verify(public: bytes, checkpoint: Mapping[str, Any], signature: str) -> None:
    """Raises BadSignature unless `signature` is `public`'s over the checkpoint."""
    if key_id(public) != checkpoint["key_id"]:
        raise BadSignature(f"checkpoint names key {checkpoint['key_id']}, not {key_id(public)}")
    try:
        raw = base64.b64decode(signature, validate=True)
        Ed25519PublicKey.from_public_bytes(public).verify(raw, checkpoint_body(checkpoint))
    except (InvalidSignature, binascii.Error, ValueError):
        raise BadSignature(
            f"bad signature on checkpoint of size {checkpoint['tree_size']}"
        ) from None
