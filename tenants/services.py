"""Writes on tenants and memberships.

Every change of a membership, from the API or the Django admin, goes through
this module, so the rule that a tenant with an admin keeps one holds for all.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from auditlog_project.errors import Conflict, Invalid, Message

from .choices import Role
from .models import Membership, Tenant, retention_days_problem


class LastAdminError(Conflict):
    """Refused: the change would leave a tenant that has an admin without any."""


def _check_retention(retention_days: int | None) -> None:
    """Invalid (400 naming the field and the bounds) outside the platform's bounds."""
    problem = None if retention_days is None else retention_days_problem(retention_days)
    if problem:
        raise Invalid({"retention_days": [Message(problem, "out_of_range")]})


@transaction.atomic
def tenant_create(
    *, id: str, name: str, retention_days: int = 90, archive_before_delete: bool = True
) -> Tenant:
    """Create a tenant; 409 if the id is taken (ids are never reused); 400 for a
    retention outside the platform's bounds."""
    _check_retention(retention_days)
    if Tenant.objects.filter(pk=id).exists():
        raise Conflict(f"A tenant with id {id!r} already exists.")
    try:
        with transaction.atomic():
            return Tenant.objects.create(
                id=id,
                name=name,
                retention_days=retention_days,
                archive_before_delete=archive_before_delete,
            )
    except IntegrityError:
        raise Conflict(f"A tenant with id {id!r} already exists.") from None


@transaction.atomic
def tenant_update(*, tenant: Tenant, **changes) -> Tenant:
    """Change a tenant's name, retention, archive policy or active flag (the id never
    changes); 400 for a retention outside the platform's bounds."""
    _check_retention(changes.get("retention_days"))
    for field, value in changes.items():
        setattr(tenant, field, value)
    tenant.save(update_fields=list(changes))
    return tenant


def memberships_check(*, tenant: Tenant, roles: Mapping[int, str | None]) -> None:
    """Raise LastAdminError if giving each user id its role (None: removed)
    would take `tenant` from at least one admin to none.

    Reads without locking: forms call it to show the error early; the writing
    services below call it again under the tenant's lock.
    """
    current = dict(Membership.objects.filter(tenant=tenant).values_list("user_id", "role"))
    after = {**current, **roles}
    had_admin = Role.ADMIN in current.values()
    if had_admin and Role.ADMIN not in after.values():
        raise LastAdminError(
            f"Tenant {tenant.pk!r} must keep an admin: make another member admin "
            "before demoting or removing the last one."
        )


def _lock_memberships(tenant: Tenant) -> None:
    """Serialise membership changes of one tenant (row lock on the tenant).

    Without it, two concurrent demotions of the last two admins would each see
    the other still admin and both succeed.
    """
    list(Tenant.objects.select_for_update().filter(pk=tenant.pk).values_list("pk"))


def _active_user(username: str):
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise Invalid({"username": [Message("No active user has this username.", "not_found")]})
    return user


@transaction.atomic
def membership_upsert(*, tenant: Tenant, username: str, role: str) -> tuple[Membership, bool]:
    """Give `username` exactly `role` in `tenant`; returns (membership, created).

    Refuses (409, LastAdminError) to demote the tenant's last admin, so a tenant
    always keeps someone who can manage it.
    """
    user = _active_user(username)
    _lock_memberships(tenant)
    memberships_check(tenant=tenant, roles={user.pk: role})
    return Membership.objects.update_or_create(tenant=tenant, user=user, defaults={"role": role})


@transaction.atomic
def membership_delete(*, membership: Membership) -> None:
    """Remove a member; refuses (409, LastAdminError) to remove the last admin."""
    _lock_memberships(membership.tenant)
    memberships_check(tenant=membership.tenant, roles={membership.user_id: None})
    membership.delete()


@transaction.atomic
def memberships_apply(*, tenant: Tenant, roles: Mapping[int, str | None]) -> dict[int, Membership]:
    """Set several members' roles at once (user id -> role; None removes them).

    The last-admin rule is checked on the end state, so handing the admin role
    from one member to another in one change is allowed. New members must be
    active users. Returns the memberships kept or created, by user id.
    """
    _lock_memberships(tenant)
    memberships_check(tenant=tenant, roles=roles)
    granted = [user_id for user_id, role in roles.items() if role is not None]
    active = set(
        get_user_model().objects.filter(pk__in=granted, is_active=True).values_list("pk", flat=True)
    )
    existing = set(
        Membership.objects.filter(tenant=tenant, user_id__in=granted).values_list(
            "user_id", flat=True
        )
    )
    if set(granted) - existing - active:
        raise Invalid({"user": [Message("Only active users can be made members.", "inactive")]})
    saved = {}
    for user_id, role in roles.items():
        if role is None:
            Membership.objects.filter(tenant=tenant, user_id=user_id).delete()
        else:
            saved[user_id], _ = Membership.objects.update_or_create(
                tenant=tenant, user_id=user_id, defaults={"role": role}
            )
    return saved


@transaction.atomic
def memberships_remove_user(*, user) -> None:
    """Remove `user` from every tenant (before deleting the user); refuses
    (LastAdminError) when the user is the last admin of a tenant."""
    for membership in Membership.objects.filter(user=user).select_related("tenant"):
        membership_delete(membership=membership)
