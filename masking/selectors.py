"""Reads of masking policies, and the per-process cache of compiled ones."""

from __future__ import annotations

from django.conf import settings

from tenants.models import Tenant

from .engine import Masker
from .models import MaskingPolicy
from .policy import PolicyRules, compile_masker

# tenant id -> (masking_version, MASKING_ENABLED, compiled masker). A process
# serves a bounded number of tenants; a stale entry is replaced, never reused.
_COMPILED: dict[str, tuple[int, bool, Masker]] = {}


def policy_rules(*, tenant: Tenant) -> PolicyRules:
    """The tenant's saved rules (empty ones when it never saved a policy)."""
    return rules_of(policy_row(tenant=tenant))


def rules_of(row: MaskingPolicy | None) -> PolicyRules:
    """The rules of a policy row already read (empty ones for None)."""
    if row is None:
        return PolicyRules()
    return PolicyRules.from_json(
        {
            "key_names": row.key_names,
            "value_patterns": row.value_patterns,
            "allow_keys": row.allow_keys,
            "mask_emails": row.mask_emails,
        }
    )


def policy_row(*, tenant: Tenant) -> MaskingPolicy | None:
    return MaskingPolicy.objects.filter(tenant_id=tenant.pk).first()


def masker_for(tenant: Tenant) -> Masker:
    """The tenant's compiled masker: no query while `tenant.masking_version`
    (loaded with the request's access) equals the cached one's; after a change,
    one query and a compile, once per process."""
    version, enabled = tenant.masking_version, settings.MASKING_ENABLED
    cached = _COMPILED.get(tenant.pk)
    if cached is not None and cached[0] == version and cached[1] == enabled:
        return cached[2]
    masker = compile_masker(policy_rules(tenant=tenant) if version else None)
    _COMPILED[tenant.pk] = (version, enabled, masker)
    return masker


def builtin_masker() -> Masker:
    """The built-in rules alone (writers that have no tenant row at hand)."""
    enabled = settings.MASKING_ENABLED
    cached = _COMPILED.get("")
    if cached is None or cached[1] != enabled:
        cached = (0, enabled, compile_masker(None))
        _COMPILED[""] = cached
    return cached[2]


def forget_compiled() -> None:
    """Drop every compiled policy of this process (tests; a process starts empty)."""
    _COMPILED.clear()
