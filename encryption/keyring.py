"""Tenant data keys for encrypting and decrypting: looked up, created, cached.

Unwrapped keys live only in this process's memory, for at most
`ENCRYPTION_KEY_CACHE_SECONDS` (default 60) and at most `MAX_CACHED` entries;
they are never logged, never written to Redis or the database. That bound is
also how long another process may keep using a key after a rotation (new
events) or a shred (reads) elsewhere; the process that rotates or shreds
forgets at once.

A key created inside a transaction is cached only after that transaction
commits: a rolled-back creation never leaves a key in the cache whose row
does not exist.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from . import master
from .models import DataKey
from .policy import policy_fields

logger = logging.getLogger(__name__)

MAX_CACHED = 10_000


class KeyUnavailable(Exception):
    """No usable key for a ciphertext: unknown version, or its master key refuses."""


@dataclass(frozen=True)
class ActiveKey:
    """What ingest needs for a tenant: the newest key and the fields to encrypt."""

    tenant_id: str
    version: int
    aead: AESGCM
    fields: frozenset[str]


_lock = threading.Lock()
# (tenant, version) -> (expires, AESGCM, or None for a shredded key)
_keys: dict[tuple[str, int], tuple[float, AESGCM | None]] = {}
_active: dict[str, tuple[float, ActiveKey]] = {}
_uncommitted: set[tuple[str, int]] = set()


def _remember_key(tenant_id: str, version: int, aead: AESGCM | None) -> None:
    if (tenant_id, version) in _uncommitted:
        return
    with _lock:
        if len(_keys) >= MAX_CACHED:
            _keys.clear()
        _keys[(tenant_id, version)] = (
            time.monotonic() + settings.ENCRYPTION_KEY_CACHE_SECONDS,
            aead,
        )


def forget(tenant_id: str | None = None) -> None:
    """Drop cached keys of a tenant (all tenants when None) from this process."""
    with _lock:
        for cached in [k for k in _keys if tenant_id is None or k[0] == tenant_id]:
            del _keys[cached]
    forget_active(tenant_id)


def forget_active(tenant_id: str | None = None) -> None:
    """Drop only which key and fields encrypt the tenant's new events (a rotation or a
    policy change): a key version never changes, so its cached key stays valid."""
    with _lock:
        for tenant in [t for t in _active if tenant_id is None or t == tenant_id]:
            del _active[tenant]


def reset() -> None:
    """Forget every cached key and pending creation (tests: each starts afresh)."""
    forget()
    _uncommitted.clear()


def active_key(tenant_id: str) -> ActiveKey:
    """The key new events of the tenant are encrypted with (created on first use)."""
    cached = _active.get(tenant_id)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    for _ in range(3):
        row = (
            DataKey.objects.filter(tenant_id=tenant_id, wrapped__isnull=False)
            .order_by("-version")
            .first()
        )
        if row is None:
            row = create_version(tenant_id)
        if row is not None:
            break
    else:  # pragma: no cover - three lost races in a row
        raise KeyUnavailable(f"could not create a data key for {tenant_id}")
    held = _fresh_key(tenant_id, row.version)  # a read may have unwrapped it already
    aead = held[1] if held is not None and held[1] is not None else AESGCM(_unwrap(row))
    key = ActiveKey(tenant_id, row.version, aead, policy_fields(tenant_id))
    if (tenant_id, row.version) in _uncommitted:
        transaction.on_commit(lambda: _remember_active(key))  # after create_version's own
    else:
        _remember_active(key)
    return key


def _remember_active(key: ActiveKey) -> None:
    _remember_key(key.tenant_id, key.version, key.aead)
    with _lock:
        expires = time.monotonic() + settings.ENCRYPTION_KEY_CACHE_SECONDS
        _active[key.tenant_id] = (expires, key)


def key_for(tenant_id: str, version: int) -> AESGCM | None:
    """The AEAD of a key version; None when it was shredded; KeyUnavailable otherwise."""
    cached = _fresh_key(tenant_id, version)
    if cached is not None:
        return cached[1]
    row = DataKey.objects.filter(tenant_id=tenant_id, version=version).first()
    if row is None:
        raise KeyUnavailable(f"{tenant_id} has no key version {version}")
    aead = None if row.wrapped is None else AESGCM(_unwrap(row))
    _remember_key(tenant_id, version, aead)
    return aead


def _fresh_key(tenant_id: str, version: int) -> tuple[float, AESGCM | None] | None:
    cached = _keys.get((tenant_id, version))
    return cached if cached is not None and cached[0] > time.monotonic() else None


def _unwrap(row: DataKey) -> bytes:
    try:
        return master.unwrap(bytes(row.wrapped or b""), row.wrapped_by, row.tenant_id, row.version)
    except master.MasterKeyError as error:
        raise KeyUnavailable(str(error)) from None


def create_version(tenant_id: str) -> DataKey | None:
    """A new key version for the tenant (the next number, shredded ones included).

    None when a concurrent transaction created that version first (the caller
    looks again). Runs in the caller's transaction; cached after its COMMIT.
    """
    data_key = AESGCM.generate_key(bit_length=256)
    newest = DataKey.objects.filter(tenant_id=tenant_id).aggregate(v=Max("version"))["v"]
    version = (newest or 0) + 1
    wrapped, wrapped_by = master.wrap(data_key, tenant_id, version)
    try:
        with transaction.atomic():
            row = DataKey.objects.create(
                tenant_id=tenant_id,
                version=version,
                wrapped=wrapped,
                wrapped_by=wrapped_by,
                created_at=timezone.now(),
            )
    except IntegrityError:
        return None
    _uncommitted.add((tenant_id, version))
    transaction.on_commit(lambda: _uncommitted.discard((tenant_id, version)))
    logger.info("data key %s v%s created (wrapped by %s)", tenant_id, version, wrapped_by)
    return row
