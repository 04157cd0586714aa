"""Writes of masking policies."""

from __future__ import annotations

from django.db import transaction
from django.db.models import F

from tenants.models import Tenant

from .models import MaskingPolicy
from .policy import PolicyRules


@transaction.atomic
def policy_put(*, tenant: Tenant, rules: PolicyRules, username: str) -> MaskingPolicy:
    """Replace the tenant's masking policy with `rules` (already validated).

    Bumps `Tenant.masking_version` in the same transaction: from its COMMIT on,
    every process compiles the new policy at its next request for the tenant
    (masking.selectors.masker_for). Events stored before keep their masking.
    """
    data = rules.as_json()
    policy, _ = MaskingPolicy.objects.update_or_create(
        tenant=tenant,
        defaults={
            "key_names": data["key_names"],
            "value_patterns": data["value_patterns"],
            "allow_keys": data["allow_keys"],
            "mask_emails": data["mask_emails"],
            "updated_by": username,
        },
    )
    Tenant.objects.filter(pk=tenant.pk).update(masking_version=F("masking_version") + 1)
    tenant.refresh_from_db(fields=["masking_version"])
    return policy
