"""Membership and tenant changes announced through auditlog_project.access.

Model signals rather than calls in services.py: a membership changes through
the services, the admin, a command or a queryset `delete()` (which still sends
`post_delete` per row), and every one of those paths must end the access it
took away. Connected in TenantsConfig.ready().
"""

from __future__ import annotations

from auditlog_project import access

from .models import Membership, Tenant


def membership_saved(sender, instance: Membership, **kwargs) -> None:
    """Created or role changed: open streams re-check (the role sets their scope)."""
    access.access_changed(
        user_id=instance.user_id, tenant_id=instance.tenant_id, reason=access.MEMBERSHIP
    )


def membership_deleted(sender, instance: Membership, **kwargs) -> None:
    access.access_changed(
        user_id=instance.user_id, tenant_id=instance.tenant_id, reason=access.MEMBERSHIP
    )


def tenant_saved(sender, instance: Tenant, created: bool, **kwargs) -> None:
    """Any save of an existing tenant (deactivation ends every member's access)."""
    if not created:
        access.access_changed(user_id=None, tenant_id=instance.pk, reason=access.TENANT)


def connect() -> None:
    from django.db.models.signals import post_delete, post_save

    post_save.connect(membership_saved, sender=Membership, dispatch_uid="access-membership-saved")
    post_delete.connect(
        membership_deleted, sender=Membership, dispatch_uid="access-membership-deleted"
    )
    post_save.connect(tenant_saved, sender=Tenant, dispatch_uid="access-tenant-saved")
