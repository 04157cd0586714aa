"""Changes to a user that matter to the tenants it belongs to, recorded as
`admin` events in each of those tenants' logs (logs.audit).

A `post_save` receiver, so every path that saves a user is covered: the
Django admin, `manage.py changepassword`, services. It runs inside the save
(the admin and services wrap it in a transaction; a bare save gets one here),
while `User.save` still knows whether the password changed (`_password`) and
the stored active flag (`_stored`). Never a password or its hash: a
password change is recorded as the fact that it changed.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from auditlog_project import access
from logs import audit
from tenants.models import Membership

from .models import User


def user_changes(user: User) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(action, before, after) for each tenant-relevant change this save makes."""
    changes: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    was_active = getattr(user, "_stored", {}).get("is_active")  # as loaded (User.from_db)
    if was_active is not None and was_active != user.is_active:
        action = "USER_ACTIVATE" if user.is_active else "USER_DEACTIVATE"
        changes.append((action, {"is_active": was_active}, {"is_active": user.is_active}))
    if getattr(user, "_password", None) is not None:
        changes.append(("USER_PASSWORD_CHANGE", {}, {"changed": ["password"]}))
    return changes


@receiver(post_save, sender=User, dispatch_uid="accounts.user_admin_events")
def record_user_changes(sender, instance: User, created: bool, **kwargs) -> None:
    if created:
        return  # a new user belongs to no tenant yet
    changes = user_changes(instance)
    if not changes:
        return
    tenants = list(Membership.objects.filter(user=instance).values_list("tenant_id", flat=True))
    by = audit.current_actor()
    with transaction.atomic():
        for tenant_id in tenants:
            for action, before, after in changes:
                audit.record_admin(
                    tenant_id=tenant_id,
                    actor=by.username,
                    action=action,
                    resource_type="user",
                    resource_id=instance.get_username(),
                    before=before or None,
                    after=after,
                    origin=by.origin,
                )


@receiver(post_delete, sender=User, dispatch_uid="accounts.user_deleted_access")
def announce_user_deleted(sender, instance: User, **kwargs) -> None:
    """A deleted user's tokens end: their memberships go with them (and are
    announced), but a platform administrator has none."""
    access.access_changed(user_id=instance.pk, tenant_id=None, reason=access.DELETED)
