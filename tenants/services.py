"""Writes on tenants and memberships.

Every change of a membership, from the API or the Django admin, goes through
this module, so the rule that a tenant with an admin keeps one holds for all,
and every change is recorded as an `admin` event in the tenant's own log
(logs.audit), in the same transaction. `by` names who made it: API views pass
their caller; otherwise the context's actor (the Django admin's signed-in
administrator, or `system` for commands).
"""

from __future__ import annotations

from collections.abc import Mapping

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from auditlog_project.errors import Conflict, Invalid, Message
from logs import audit

from .choices import Role
from .models import Membership, Tenant, retention_days_problem

TENANT_FIELDS = ("name", "retention_days", "archive_before_delete", "is_active")


class LastAdminError(Conflict):
    """Refused: the change would leave a tenant that has an admin without any."""


def _check_retention(retention_days: int | None) -> None:
    """Invalid (400 naming the field and the bounds) outside the platform's bounds."""
    problem = None if retention_days is None else retention_days_problem(retention_days)
    if problem:
        raise Invalid({"retention_days": [Message(problem, "out_of_range")]})


def _record(tenant: Tenant, by: audit.ChangedBy | None, action: str, **change) -> None:
    by = by or audit.current_actor()
    audit.record_admin(
        tenant_id=tenant.pk, actor=by.username, action=action, origin=by.origin, **change
    )


def _tenant_state(tenant: Tenant, names) -> dict:
    return {name: getattr(tenant, name) for name in names}


@transaction.atomic
def tenant_create(
    *,
    id: str,
    name: str,
    retention_days: int = 90,
    archive_before_delete: bool = True,
    by: audit.ChangedBy | None = None,
) -> Tenant:
    """Create a tenant; 409 if the id is taken (ids are never reused); 400 for a
    retention outside the platform's bounds."""
    _check_retention(retention_days)
    if Tenant.objects.filter(pk=id).exists():
        raise Conflict(f"A tenant with id {id!r} already exists.")
    try:
        with transaction.atomic():
            tenant = Tenant.objects.create(
                id=id,
                name=name,
                retention_days=retention_days,
                archive_before_delete=archive_before_delete,
            )
    except IntegrityError:
        raise Conflict(f"A tenant with id {id!r} already exists.") from None
    _record(
        tenant,
        by,
        "TENANT_CREATE",
        resource_type="tenant",
        resource_id=tenant.pk,
        after=_tenant_state(tenant, TENANT_FIELDS),
    )
    return tenant


@transaction.atomic
def tenant_update(*, tenant: Tenant, by: audit.ChangedBy | None = None, **changes) -> Tenant:
    """Change a tenant's name, retention, archive policy or active flag (the id never
    changes); 400 for a retention outside the platform's bounds."""
    _check_retention(changes.get("retention_days"))
    before = _tenant_state(tenant, changes)
    for field, value in changes.items():
        setattr(tenant, field, value)
    tenant.save(update_fields=list(changes))
    after = _tenant_state(tenant, changes)
    record_tenant_change(tenant=tenant, before=before, after=after, by=by)
    return tenant


def record_tenant_change(
    *, tenant: Tenant, before: Mapping, after: Mapping, by: audit.ChangedBy | None = None
) -> None:
    """TENANT_UPDATE with the fields that changed (nothing when none did)."""
    changed = [name for name in after if before.get(name) != after[name]]
    if changed:
        _record(
            tenant,
            by,
            "TENANT_UPDATE",
            resource_type="tenant",
            resource_id=tenant.pk,
            before={name: before.get(name) for name in changed},
            after={name: after[name] for name in changed},
        )


def _record_role_change(
    tenant: Tenant, username: str, before: str | None, after: str | None, by
) -> None:
    """MEMBER_ADD, MEMBER_ROLE_CHANGE or MEMBER_REMOVE; nothing when the role stays."""
    if before == after:
        return
    action = "MEMBER_ADD" if before is None else "MEMBER_REMOVE" if after is None else None
    _record(
        tenant,
        by,
        action or "MEMBER_ROLE_CHANGE",
        resource_type="membership",
        resource_id=username,
        before=None if before is None else {"role": before},
        after=None if after is None else {"role": after},
    )


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
def membership_upsert(
    *, tenant: Tenant, username: str, role: str, by: audit.ChangedBy | None = None
) -> tuple[Membership, bool]:
    """Give `username` exactly `role` in `tenant`; returns (membership, created).

    Refuses (409, LastAdminError) to demote the tenant's last admin, so a tenant
    always keeps someone who can manage it.
    """
    user = _active_user(username)
    _lock_memberships(tenant)
    memberships_check(tenant=tenant, roles={user.pk: role})
    before = Membership.objects.filter(tenant=tenant, user=user).values_list("role", flat=True)
    previous = before.first()
    saved = Membership.objects.update_or_create(tenant=tenant, user=user, defaults={"role": role})
    _record_role_change(tenant, user.username, previous, role, by)
    return saved


@transaction.atomic
def membership_delete(*, membership: Membership, by: audit.ChangedBy | None = None) -> None:
    """Remove a member; refuses (409, LastAdminError) to remove the last admin."""
    _lock_memberships(membership.tenant)
    memberships_check(tenant=membership.tenant, roles={membership.user_id: None})
    username = membership.user.get_username()
    role = Membership.objects.filter(pk=membership.pk).values_list("role", flat=True).first()
    membership.delete()
    _record_role_change(membership.tenant, username, role, None, by)


@transaction.atomic
def memberships_apply(
    *, tenant: Tenant, roles: Mapping[int, str | None], by: audit.ChangedBy | None = None
) -> dict[int, Membership]:
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
    before = {
        user_id: (username, role)
        for user_id, username, role in Membership.objects.filter(
            tenant=tenant, user_id__in=list(roles)
        ).values_list("user_id", "user__username", "role")
    }
    names = dict(get_user_model().objects.filter(pk__in=list(roles)).values_list("pk", "username"))
    saved = {}
    for user_id, role in roles.items():
        if role is None:
            Membership.objects.filter(tenant=tenant, user_id=user_id).delete()
        else:
            saved[user_id], _ = Membership.objects.update_or_create(
                tenant=tenant, user_id=user_id, defaults={"role": role}
            )
        previous = before.get(user_id, (None, None))[1]
        _record_role_change(tenant, names.get(user_id, str(user_id)), previous, role, by)
    return saved


@transaction.atomic
def memberships_remove_user(*, user, by: audit.ChangedBy | None = None) -> None:
    """Remove `user` from every tenant (before deleting the user); refuses
    (LastAdminError) when the user is the last admin of a tenant."""
    for membership in Membership.objects.filter(user=user).select_related("tenant", "user"):
        membership_delete(membership=membership, by=by)
