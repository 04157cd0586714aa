"""Changes to tenants' encryption: the policy, key rotation, re-wrap, shredding.

Each runs in its own transaction and makes this process forget the keys it
changed at once; other processes follow within ENCRYPTION_KEY_CACHE_SECONDS
(encryption/keyring.py). Event rows are never rewritten: only data keys are
wrapped by the master key, and a data key is never changed, only added or
destroyed. Every change is recorded as an `admin` event in the tenant's own log
(logs.audit.record_admin), written after the change, so the record of a
shredding is itself readable (it is encrypted with the tenant's next key).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from logs.audit import COMMAND, Origin, record_admin
from tenants.models import Tenant

from . import keyring, master
from .models import DataKey, EncryptionPolicy
from .policy import policy_fields, validated_fields

logger = logging.getLogger(__name__)


@transaction.atomic
def policy_set(*, tenant: Tenant, fields: object, actor: str, origin: Origin) -> list[str]:
    """Set the fields the tenant encrypts from now on; Invalid names a bad list.

    Events already stored keep the form they were stored in: adding a field
    encrypts it in new events, removing one stores it in clear from now on.
    """
    chosen = validated_fields(fields)
    before = sorted(policy_fields(tenant.id))
    EncryptionPolicy.objects.update_or_create(tenant=tenant, defaults={"fields": chosen})
    keyring.forget_active(tenant.id)
    transaction.on_commit(lambda: keyring.forget_active(tenant.id))
    record_admin(
        tenant_id=tenant.id,
        actor=actor,
        action="ENCRYPTION_POLICY_UPDATE",
        resource_type="encryption_policy",
        resource_id=tenant.id,
        before={"encrypted_fields": before},
        after={"encrypted_fields": chosen},
        origin=origin,
    )
    return chosen


@transaction.atomic
def key_rotate(*, tenant_id: str, actor: str, origin: Origin = COMMAND) -> int:
    """A new data key version for the tenant: new events use it, old ones keep theirs."""
    Tenant.objects.select_for_update().get(id=tenant_id)  # one rotation at a time
    row = keyring.create_version(tenant_id)
    if row is None:  # pragma: no cover - the tenant lock serialises rotations
        raise RuntimeError(f"a concurrent key creation for {tenant_id} won; rotate again")
    keyring.forget_active(tenant_id)
    transaction.on_commit(lambda: keyring.forget_active(tenant_id))
    logger.info("data key of %s rotated to v%s", tenant_id, row.version)
    _record_key_change(tenant_id, actor, origin, "KEY_ROTATE", {"version": row.version})
    return row.version


def _record_key_change(
    tenant_id: str, actor: str, origin: Origin, action: str, after: dict
) -> None:
    record_admin(
        tenant_id=tenant_id,
        actor=actor,
        action=action,
        resource_type="encryption_key",
        resource_id=tenant_id,
        after=after,
        origin=origin,
    )


@dataclass(frozen=True)
class RewrapResult:
    rewrapped: int
    already_current: int
    master_key: str


def keys_rewrap(
    *, tenant_ids: list[str] | None = None, actor: str, origin: Origin = COMMAND
) -> RewrapResult:
    """Wrap every live data key (of these tenants, or all) with the current master key.

    One short transaction per key (locked while it changes), so a re-wrap of
    many tenants can be stopped and run again: keys already wrapped by the
    current master key are skipped. The previous master key must still
    unwrap (ENCRYPTION_RETIRED_MASTER_KEYS, or its KMS key still enabled).
    """
    target = master.current_id()
    keys = DataKey.objects.filter(wrapped__isnull=False)
    if tenant_ids is not None:
        keys = keys.filter(tenant_id__in=tenant_ids)
    done = current = 0
    for tenant_id, version in keys.order_by("tenant_id", "version").values_list(
        "tenant_id", "version"
    ):
        with transaction.atomic():
            row = DataKey.objects.select_for_update().get(tenant_id=tenant_id, version=version)
            if row.wrapped is None or row.wrapped_by == target:
                current += 1
                continue
            data_key = master.unwrap(bytes(row.wrapped), row.wrapped_by, tenant_id, version)
            previous = row.wrapped_by
            row.wrapped, row.wrapped_by = master.wrap(data_key, tenant_id, version)
            row.save(update_fields=["wrapped", "wrapped_by"])
            change = {"version": version, "master": target, "previous_master": previous}
            _record_key_change(tenant_id, actor, origin, "KEY_REWRAP", change)
            done += 1
    keyring.forget()
    logger.info("re-wrapped %s data keys with %s (%s already were)", done, target, current)
    return RewrapResult(rewrapped=done, already_current=current, master_key=target)


@transaction.atomic
def keys_shred(*, tenant_id: str, actor: str, origin: Origin = COMMAND) -> int:
    """Destroy every data key of the tenant (crypto-shredding); the number destroyed.

    The wrapped keys are erased (the rows stay as tombstones, so the fields
    they encrypted read "[shredded]" and versions are not reused). Every
    encrypted field of the tenant's events, in the database, in exports and in
    the archive, can then never be read again, by anyone. The next event the
    tenant writes gets a new key. Irreversible by design; see
    docs/operations.md#crypto-shredding for the backups caveat.
    """
    Tenant.objects.select_for_update().get(id=tenant_id)  # no rotation meanwhile
    destroyed = DataKey.objects.filter(tenant_id=tenant_id, wrapped__isnull=False).update(
        wrapped=None, shredded_at=timezone.now()
    )
    keyring.forget(tenant_id)
    transaction.on_commit(lambda: keyring.forget(tenant_id))
    logger.warning("crypto-shredded %s data key(s) of tenant %s", destroyed, tenant_id)
    _record_key_change(tenant_id, actor, origin, "KEY_SHRED", {"destroyed": destroyed})
    return destroyed
