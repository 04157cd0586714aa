"""Writes of masking policies."""

from __future__ import annotations

from django.db import transaction
from django.db.models import F

from auditlog_project import access
from logs.audit import Origin, record_admin
from tenants.models import Tenant

from .models import MaskingPolicy
from .policy import PolicyRules
from .selectors import policy_rules


@transaction.atomic
def policy_put(
    *, tenant: Tenant, rules: PolicyRules, username: str, origin: Origin | None = None
) -> MaskingPolicy:
    """Replace the tenant's masking policy with `rules` (already validated).

    Bumps `Tenant.masking_version` in the same transaction: from its COMMIT on,
    every process compiles the new policy at its next request for the tenant
    (masking.selectors.masker_for). The tenant row changed, so the change is
    announced (auditlog_project.access): the access cache, which holds the row
    for bearer requests, reads it again. Events stored before keep their masking.
    The change is an `admin` event in the tenant's log (before and after).
    """
    before = policy_rules(tenant=tenant).as_json()
    data = rules.as_json()
    policy, _ = MaskingPolicy.objects.update_or_create(
        tenant=tenant, defaults={**data, "updated_by": username}
    )
    Tenant.objects.filter(pk=tenant.pk).update(masking_version=F("masking_version") + 1)
    tenant.refresh_from_db(fields=["masking_version"])
    access.access_changed(user_id=None, tenant_id=tenant.pk, reason=access.TENANT)
    record_admin(
        tenant_id=tenant.pk,
        actor=username,
        action="MASKING_POLICY_UPDATE",
        resource_type="masking_policy",
        resource_id=tenant.pk,
        before=before,
        after=data,
        origin=origin,
    )
    return policy
