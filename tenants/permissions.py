"""What each role may do in a tenant: the role matrix of the API contract."""

from enum import StrEnum

from rest_framework import permissions

from .choices import Role


class Operation(StrEnum):
    CREATE_EVENTS = "create_events"
    READ_EVENTS = "read_events"  # list, get, export, stats, stream
    CLEANUP = "cleanup"
    MANAGE_TENANT = "manage_tenant"  # view/patch the tenant, manage members, masking policy
    READ_MASKING_POLICY = "read_masking_policy"  # what is masked at ingest (no secrets in it)
    READ_ARCHIVE = "read_archive"  # list archived days, download links (docs/adr/0009)
    MANAGE_ALERTS = "manage_alerts"  # create/change/delete alert rules, acknowledge alerts
    READ_ALERTS = "read_alerts"  # alert rules and fired alerts (also on the live stream)


ALLOWED_ROLES: dict[Operation, frozenset[str]] = {
    Operation.CREATE_EVENTS: frozenset({Role.ADMIN, Role.USER}),
    Operation.READ_EVENTS: frozenset({Role.ADMIN, Role.AUDITOR, Role.USER}),
    Operation.CLEANUP: frozenset({Role.ADMIN}),
    # Auditors too: past retention the archive is the only copy of what they audit,
    # and they may export every live event of the tenant already.
    Operation.READ_ARCHIVE: frozenset({Role.ADMIN, Role.AUDITOR}),
    Operation.MANAGE_TENANT: frozenset({Role.ADMIN}),
    Operation.READ_MASKING_POLICY: frozenset({Role.ADMIN, Role.AUDITOR}),
    Operation.MANAGE_ALERTS: frozenset({Role.ADMIN}),
    # Auditors read what the rules watch and what fired (they read every event
    # already); users, who see only their own events, see neither.
    Operation.READ_ALERTS: frozenset({Role.ADMIN, Role.AUDITOR}),
}

PLATFORM_ADMIN = "platform_admin"


class IsPlatformAdmin(permissions.BasePermission):
    """The operations of the last matrix row: list/create tenants, create users."""

    message = "Only platform administrators may do this."

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.is_superuser)


def role_allows(role: str, operation: Operation) -> bool:
    """Platform administrators may do everything in every tenant."""
    return role == PLATFORM_ADMIN or role in ALLOWED_ROLES[operation]
