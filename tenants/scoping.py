"""THE tenant-scoping mechanism: every tenant-scoped read or write goes through here.

- `resolve_access` turns (user, requested tenant id) into a `TenantAccess`, or
  refuses. "Not a member" and "no such tenant" are refused identically.
- `activate` sets the tenant for the current database transaction, which
  PostgreSQL row-level security on tenant-owned tables (the events table) reads.
- `TenantScopedAPIView` is the base of every tenant-scoped endpoint: it resolves
  the tenant and checks the role in `initial()`, before the handler runs, and
  hands out querysets that are already scoped. Subclasses cannot override
  `get_queryset`; an unscoped path must be spelled `dangerously_*`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from django.conf import settings
from django.db import connection, models
from rest_framework import exceptions, generics
from rest_framework.request import Request

from auditlog_project import ratelimits

from .models import TENANT_ID_PATTERN, Membership, Tenant
from .permissions import PLATFORM_ADMIN, Operation, role_allows

TENANT_HEADER = "HTTP_X_TENANT_ID"
NOT_ACCESSIBLE = "Tenant not found or not accessible."
_SLUG = re.compile(TENANT_ID_PATTERN)


class TenantNotAccessible(exceptions.PermissionDenied):
    default_detail = NOT_ACCESSIBLE
    default_code = "tenant_not_accessible"


class RoleNotAllowed(exceptions.PermissionDenied):
    default_detail = "Your role in this tenant does not allow this operation."
    default_code = "role_not_allowed"


class TenantRequired(exceptions.ValidationError):
    pass


@dataclass(frozen=True)
class TenantAccess:
    """Who is acting in which tenant, with which role (typed request context)."""

    tenant: Tenant
    role: str  # a Role value, or PLATFORM_ADMIN
    username: str

    @property
    def tenant_id(self) -> str:
        return self.tenant.id

    @property
    def sees_only_own_events(self) -> bool:
        """The `user` role reads only events whose user_id is its username."""
        return self.role == "user"

    def allows(self, operation: Operation) -> bool:
        return role_allows(self.role, operation)


def _membership_tenants(user) -> list[Membership]:
    return list(
        Membership.objects.filter(user=user, tenant__is_active=True).select_related("tenant")
    )


def resolve_access(user, tenant_id: str | None, *, include_inactive: bool = False) -> TenantAccess:
    """The caller's access to `tenant_id` (implicit when they belong to one tenant).

    Raises TenantRequired (400) when the tenant cannot be inferred, and
    TenantNotAccessible (403) when it does not exist, is inactive, or the caller
    is not a member: these last three are indistinguishable from outside.
    `include_inactive` lets platform administrators reach a deactivated tenant
    (to reactivate it); members never can.
    """
    if tenant_id is None or tenant_id == "":
        return _implicit_access(user)
    if not isinstance(tenant_id, str) or not _valid_slug(tenant_id):
        raise TenantNotAccessible()
    if user.is_superuser:
        tenant = Tenant.objects.filter(pk=tenant_id).first()
        if tenant is None or not (tenant.is_active or include_inactive):
            raise TenantNotAccessible()
        return TenantAccess(tenant=tenant, role=PLATFORM_ADMIN, username=user.get_username())
    membership = (
        Membership.objects.filter(user=user, tenant_id=tenant_id, tenant__is_active=True)
        .select_related("tenant")
        .first()
    )
    if membership is None:
        raise TenantNotAccessible()
    return TenantAccess(tenant=membership.tenant, role=membership.role, username=user.username)


def _implicit_access(user) -> TenantAccess:
    memberships = [] if user.is_superuser else _membership_tenants(user)
    if len(memberships) != 1:
        raise TenantRequired(
            {"tenant_id": ["tenant_id is required unless you belong to exactly one tenant."]},
            code="required",
        )
    only = memberships[0]
    return TenantAccess(tenant=only.tenant, role=only.role, username=user.username)


def _valid_slug(value: str) -> bool:
    return _SLUG.fullmatch(value) is not None


def activate(tenant_id: str) -> None:
    """Set the tenant for the current transaction (read by row-level security).

    `set_config(..., true)` is transaction-local: it vanishes at COMMIT or
    ROLLBACK, so a pooled connection never carries a tenant into the next
    request. Callers must be inside a transaction (requests are: ATOMIC_REQUESTS).
    """
    if not connection.in_atomic_block:
        raise RuntimeError("activate() needs a transaction: wrap the work in transaction.atomic")
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('app.tenant_id', %s, true)", [tenant_id])


class TenantScopedAPIView(generics.GenericAPIView):
    """Base for every tenant-scoped endpoint; closed by default.

    Declare `tenant_operations` ({HTTP method: Operation}); a method missing from
    it is refused. Declare `scoped_model`, a model with a `tenant` field; models
    with an `actor_field` are further narrowed to the caller's own rows for the
    `user` role. Override `requested_tenant_id` to read the tenant from elsewhere
    (a path or the body), never `get_queryset`.
    """

    # Principal and tenant limits are enforced together in initial(), below.
    throttle_classes: list = []
    tenant_operations: ClassVar[Mapping[str, Operation]] = {}
    scoped_model: ClassVar[type[models.Model] | None] = None
    # Endpoints that address the tenant itself as an object answer 404 instead.
    hidden_tenant_error: ClassVar[type[exceptions.APIException]] = TenantNotAccessible
    include_inactive_tenants: ClassVar[bool] = False
    access: TenantAccess

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "get_queryset" in cls.__dict__ or "queryset" in cls.__dict__:
            raise TypeError(
                f"{cls.__name__} may not override get_queryset/queryset: tenant scoping "
                "is applied by TenantScopedAPIView. Name an unscoped path dangerously_*."
            )

    def requested_tenant_id(self, request: Request) -> str | None:
        return request.query_params.get("tenant_id") or request.META.get(TENANT_HEADER)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # authentication, permissions, throttles
        operation = self.tenant_operations.get(request.method or "")
        if operation is None:
            raise exceptions.MethodNotAllowed(request.method or "")
        try:
            self.access = resolve_access(
                request.user,
                self.requested_tenant_id(request),
                include_inactive=self.include_inactive_tenants,
            )
        except TenantNotAccessible:
            raise self.hidden_tenant_error(NOT_ACCESSIBLE) from None
        if not self.access.allows(operation):
            raise RoleNotAllowed()
        ratelimits.enforce(
            [
                (ratelimits.principal_key(request), settings.RATE_LIMIT_PER_USER),
                (f"tenant:{self.access.tenant_id}", settings.RATE_LIMIT_PER_TENANT),
            ]
        )
        activate(self.access.tenant_id)

    def get_queryset(self) -> models.QuerySet:
        if self.scoped_model is None:
            raise TypeError(f"{type(self).__name__} declares no scoped_model")
        queryset = self.scoped_model._default_manager.filter(tenant_id=self.access.tenant_id)
        actor_field = getattr(self.scoped_model, "actor_field", None)
        if actor_field and self.access.sees_only_own_events:
            queryset = queryset.filter(**{actor_field: self.access.username})
        return queryset
