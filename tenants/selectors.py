"""Reads on tenants and memberships."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import Membership, Tenant


def memberships_of(*, user) -> list[dict]:
    """The caller's roles in active tenants, ordered by tenant id."""
    rows = (
        Membership.objects.filter(user=user, tenant__is_active=True)
        .order_by("tenant_id")
        .values_list("tenant_id", "role")
    )
    return [{"tenant_id": tenant, "role": role} for tenant, role in rows]


def tenant_list() -> QuerySet[Tenant]:
    """Every tenant (platform administrators only: callers check)."""
    return Tenant.objects.order_by("id")
