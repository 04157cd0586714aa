"""Writes on tenants and memberships."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from rest_framework.exceptions import ValidationError

from auditlog_project.problems import Conflict

from .choices import Role
from .models import Membership, Tenant


@transaction.atomic
def tenant_create(*, id: str, name: str, retention_days: int = 90) -> Tenant:
    """Create a tenant; 409 if the id is taken (ids are never reused)."""
    if Tenant.objects.filter(pk=id).exists():
        raise Conflict(f"A tenant with id {id!r} already exists.")
    try:
        with transaction.atomic():
            return Tenant.objects.create(id=id, name=name, retention_days=retention_days)
    except IntegrityError:
        raise Conflict(f"A tenant with id {id!r} already exists.") from None


@transaction.atomic
def tenant_update(*, tenant: Tenant, **changes) -> Tenant:
    """Change a tenant's name, retention or active flag (the id never changes)."""
    for field, value in changes.items():
        setattr(tenant, field, value)
    tenant.save(update_fields=list(changes))
    return tenant


def _admins_left(tenant: Tenant, excluding_user_id: int) -> int:
    return (
        Membership.objects.filter(tenant=tenant, role=Role.ADMIN)
        .exclude(user_id=excluding_user_id)
        .count()
    )


@transaction.atomic
def membership_upsert(*, tenant: Tenant, username: str, role: str) -> tuple[Membership, bool]:
    """Give `username` exactly `role` in `tenant`; returns (membership, created).

    Refuses (409) to demote the tenant's last admin, so a tenant always keeps
    someone who can manage it.
    """
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise ValidationError({"username": ["No active user has this username."]}, code="not_found")
    membership = Membership.objects.select_for_update().filter(tenant=tenant, user=user).first()
    if membership is None:
        return Membership.objects.create(tenant=tenant, user=user, role=role), True
    if membership.role == Role.ADMIN and role != Role.ADMIN and not _admins_left(tenant, user.pk):
        raise Conflict("The last admin of a tenant cannot be demoted.")
    membership.role = role
    membership.save(update_fields=["role"])
    return membership, False


@transaction.atomic
def membership_delete(*, membership: Membership) -> None:
    """Remove a member; refuses (409) to remove the tenant's last admin."""
    if membership.role == Role.ADMIN and not _admins_left(membership.tenant, membership.user_id):
        raise Conflict("The last admin of a tenant cannot be removed.")
    membership.delete()
