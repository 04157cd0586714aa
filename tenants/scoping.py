"""THE tenant-scoping mechanism: every tenant-scoped read or write goes through here.

- `resolve_access` turns (user, requested tenant id) into a `TenantAccess`, or
  refuses. "Not a member" and "no such tenant" are refused identically.
- `activate` sets the tenant for the current database transaction, which
  PostgreSQL row-level security on tenant-owned tables (the events table) reads;
  `activated` does so for a block and then restores the tenant active before.
- `admin_scope` is the Django admin's way in (platform administrators only):
  the tenant resolved and activated, and a model's rows of it.
- `TenantScopedAPIView` is the base of every tenant-scoped endpoint: it resolves
  the tenant (from the parameter, header, path or, declared per view, the
  body), checks the role and applies the rate limits in `initial()`, before the
  handler runs, and hands out querysets that are already scoped. Subclasses
  cannot override `get_queryset`; an unscoped path must be spelled
  `dangerously_*`. No view resolves a tenant itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import psycopg
from django.db import connection, models
from rest_framework import exceptions, generics
from rest_framework.exceptions import ErrorDetail
from rest_framework.request import Request

from auditlog_project import ratelimits

from . import access_cache
from .models import TENANT_ID_PATTERN, Membership, Tenant
from .permissions import PLATFORM_ADMIN, Operation, role_allows

TENANT_HEADER = "HTTP_X_TENANT_ID"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
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


def _active_memberships(user) -> list[Membership]:
    """The caller's memberships in active tenants, with their tenants."""
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
    memberships = [] if user.is_superuser else _active_memberships(user)
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
        cursor.execute(ACTIVATE_SQL, [tenant_id])


ACTIVATE_SQL = "SELECT set_config('app.tenant_id', %s, true)"
_NAMED = "activate_tenant_id"
ACTIVATE_SQL_NAMED = f"SELECT set_config('app.tenant_id', %({_NAMED})s, true)"


class _ActivateWithFirstStatement:
    """An execute wrapper (Django's `connection.execute_wrappers`) that sends the
    tenant's activation in the same round trip as the request's first statement,
    whatever that statement is, as one simple-protocol query of two statements
    (client-side binding allows it); the cursor is then on the second's result.
    A statement that cannot carry it (a server-side cursor, executemany, a
    parameter style of its own) gets `activate` first, in its own round trip.
    Either way no statement of the request that goes through `execute` runs
    before the tenant is set (`cursor.copy()` and `callproc` do not: the
    ingest paths use neither). Installed by `initial`, removed when `dispatch`
    ends, whatever happened (before the request's COMMIT)."""

    def __init__(self, tenant_id: str) -> None:
        self.tenant_id = tenant_id
        self.done = False

    def __call__(self, execute, sql, params, many, context):
        if self.done:
            return execute(sql, params, many, context)
        self.done = True
        raw = context["cursor"].cursor
        if many or not isinstance(raw, psycopg.ClientCursor):  # a named cursor is not one
            activate(self.tenant_id)
            return execute(sql, params, many, context)
        if isinstance(params, dict) and _NAMED not in params:
            both = f"{ACTIVATE_SQL_NAMED}; {sql}", {**params, _NAMED: self.tenant_id}
        elif isinstance(params, list | tuple):
            both = f"{ACTIVATE_SQL}; {sql}", [self.tenant_id, *params]
        else:
            activate(self.tenant_id)
            return execute(sql, params, many, context)
        result = execute(*both, many, context)
        raw.nextset()
        return result


@contextmanager
def activated(tenant_id: str) -> Iterator[None]:
    """`activate(tenant_id)` for a block, then the tenant active before it again.

    For work in one tenant's transaction that writes into another (logs.audit's
    admin events): what the transaction sees is never widened after the block.
    One statement reads the previous tenant and switches; one switches back,
    none when it was the same tenant. An error in the block leaves the switch
    (the transaction is failing anyway).
    """
    if not connection.in_atomic_block:
        raise RuntimeError("activated() needs a transaction: wrap the work in transaction.atomic")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('app.tenant_id', true), set_config('app.tenant_id', %s, true)",
            [tenant_id],
        )
        previous = cursor.fetchone()[0]
    yield
    if previous != tenant_id:
        activate(previous or "")


def admin_scope(
    user, tenant_id: str, model: type[models.Model]
) -> tuple[TenantAccess, models.QuerySet]:
    """A platform administrator's reach into one tenant, for the Django admin's
    pages that read a tenant's rows (logs/admin.py): the access, with the tenant
    activated for the current transaction (row-level security), and `model`'s
    rows of that tenant (the application's filter; `model` has a `tenant` field).

    Deactivated tenants are included (the admin is where operators handle them).
    Anyone but an active superuser is refused like a tenant that does not exist
    (TenantNotAccessible), whatever the caller checked before.
    """
    if not (user.is_active and user.is_superuser):
        raise TenantNotAccessible()
    access = resolve_access(user, tenant_id, include_inactive=True)
    activate(access.tenant_id)
    return access, model._default_manager.filter(tenant_id=access.tenant_id)


class TenantScopedAPIView(generics.GenericAPIView):
    """Base for every tenant-scoped endpoint; closed by default.

    Declare `tenant_operations` ({HTTP method: Operation}); a method missing from
    it is refused. Declare `scoped_model`, a model with a `tenant` field; models
    with an `actor_field` are further narrowed to the caller's own rows for the
    `user` role. The tenant comes from the `tenant_id` parameter or the
    X-Tenant-ID header (override `requested_tenant_id` to read it from the
    path), never from `get_queryset`. Declare `tenant_from_body` when a write's
    body names the tenant too:

    - `"single"`: the body's `tenant_id` names the tenant, and must agree with
      the parameter or header when both are given (else 400);
    - `"bulk"`: the body's `tenant_id` and each item's (`events[i].tenant_id`)
      name the tenant; a request may name only one. One naming several is 403
      if the caller may not create events in one of them, 400 otherwise.

    A `tenant_id` in a body that is not a non-empty string is 400.

    `initial()` then runs, in order: authentication and permissions, tenant
    resolution and the role check, the rate-limit step (`limit_rate`), and the
    activation of the tenant for row-level security.
    """

    # Principal and tenant limits are counted together in limit_rate(), below.
    throttle_classes: list = []
    tenant_operations: ClassVar[Mapping[str, Operation]] = {}
    scoped_model: ClassVar[type[models.Model] | None] = None
    tenant_from_body: ClassVar[Literal["single", "bulk"] | None] = None
    # The kind of request for ratelimits ("read", "write", "stats", "export");
    # None: "read" for GET/HEAD/OPTIONS, "write" for the other methods.
    rate_limit_kind: ClassVar[str | None] = None
    # Endpoints that address the tenant itself as an object answer 404 instead.
    hidden_tenant_error: ClassVar[type[exceptions.APIException]] = TenantNotAccessible
    include_inactive_tenants: ClassVar[bool] = False
    # The access cache's entry may be used before it is checked: the check rides
    # in the rate limits' round trip (BearerAuthentication, limit_rate).
    checks_access_stamps: ClassVar[bool] = True
    # Writes whose tenant activation may travel with their first statement (one
    # round trip less; `_ActivateWithFirstStatement`).
    activate_with_first_statement: ClassVar[bool] = False
    activation: _ActivateWithFirstStatement | None = None
    access: TenantAccess
    slot: ratelimits.Slot | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "get_queryset" in cls.__dict__ or "queryset" in cls.__dict__:
            raise TypeError(
                f"{cls.__name__} may not override get_queryset/queryset: tenant scoping "
                "is applied by TenantScopedAPIView. Name an unscoped path dangerously_*."
            )
        if cls.tenant_from_body not in (None, "single", "bulk"):
            raise TypeError(f"{cls.__name__}.tenant_from_body must be 'single' or 'bulk'")

    def requested_tenant_id(self, request: Request) -> str | None:
        return request.query_params.get("tenant_id") or request.META.get(TENANT_HEADER)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        try:
            self._initial(request, *args, **kwargs)
        except (ratelimits.StaleAccess, exceptions.APIException) as exc:
            if not getattr(request, "access_stamps", ()) or isinstance(exc, exceptions.Throttled):
                raise
            # Decided from an access-cache entry not checked yet (a refusal, or
            # the check found it stale): start over, with the entry checked first.
            access_cache.forget(request.user.pk)
            for name in ("_user", "_auth"):
                request.__dict__.pop(name, None)
            request.access_checked_first = True  # type: ignore[attr-defined]
            self._initial(request, *args, **kwargs)

    def dispatch(self, request, *args: Any, **kwargs: Any):
        try:
            return super().dispatch(request, *args, **kwargs)
        finally:  # before COMMIT, whatever happened: the next statements go as they are
            self._remove_activation()

    def _remove_activation(self) -> None:
        if self.activation is not None:
            if self.activation in connection.execute_wrappers:
                connection.execute_wrappers.remove(self.activation)
            self.activation = None

    def _initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # authentication, permissions
        operation = self.tenant_operations.get(request.method or "")
        if operation is None:
            raise exceptions.MethodNotAllowed(request.method or "")
        tenant_id = self._tenant_named(request)
        inactive = self.include_inactive_tenants
        try:
            self.access = access_cache.tenant_access(
                getattr(request, "access_entry", None),
                tenant_id,
                inactive,
                lambda: resolve_access(request.user, tenant_id, include_inactive=inactive),
            )
        except TenantNotAccessible:
            raise self.hidden_tenant_error(NOT_ACCESSIBLE) from None
        if not self.access.allows(operation):
            raise RoleNotAllowed()
        self.limit_rate(request)
        if self.activate_with_first_statement and request.method in BODY_METHODS:
            self.activation = _ActivateWithFirstStatement(self.access.tenant_id)
            connection.execute_wrappers.append(self.activation)
        else:
            activate(self.access.tenant_id)

    def limit_rate(self, request: Request) -> None:
        """The rate-limit step: the principal's and the tenant's limits for this kind
        of request (429 with Retry-After past either), then a place among the
        tenant's concurrent requests of this kind when the kind is capped; the
        place is freed when the response is closed (after its last byte, or when
        the client goes away)."""
        kind = ratelimits.request_kind(request, self.rate_limit_kind)
        stamps = getattr(request, "access_stamps", ())
        ratelimits.enforce(request, kind, self.access.tenant_id, stamps)
        request.access_stamps = ()  # type: ignore[attr-defined]  # checked: the entry is current
        self.slot = ratelimits.concurrency_slot(kind, self.access.tenant_id)

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any):
        response = super().finalize_response(request, response, *args, **kwargs)
        if self.slot is not None:
            _release_on_close(response, self.slot)
        return response

    def _tenant_named(self, request: Request) -> str | None:
        """The tenant the request names, by the parameter or header and the body."""
        from_query = self.requested_tenant_id(request)
        if self.tenant_from_body is None or request.method not in BODY_METHODS:
            return from_query
        if self.tenant_from_body == "single":
            return _single_body_tenant(request.data, from_query)
        return _bulk_body_tenant(request.user, request.data, from_query)

    def get_queryset(self) -> models.QuerySet:
        if self.scoped_model is None:
            raise TypeError(f"{type(self).__name__} declares no scoped_model")
        queryset = self.scoped_model._default_manager.filter(tenant_id=self.access.tenant_id)
        actor_field = getattr(self.scoped_model, "actor_field", None)
        if actor_field and self.access.sees_only_own_events:
            queryset = queryset.filter(**{actor_field: self.access.username})
        return queryset


def _release_on_close(response: Any, slot: ratelimits.Slot) -> None:
    """Free `slot` when the server closes `response`: after the last byte, after a
    failure mid-stream, or when the client went away (WSGI servers always close;
    Django's ASGI handler too, unless the client left before the view returned).
    A place never given back expires after CONCURRENCY_SLOT_TTL."""
    close = response.close

    def close_and_release() -> None:
        try:
            close()
        finally:
            slot.release()

    setattr(response, "close", close_and_release)  # noqa: B010 - an instance attribute


# --- The tenant named by a request body -----------------------------------------


def _tenant_id_error(value: Any) -> ErrorDetail | None:
    """Why a body's `tenant_id` value is refused, or None when it names a tenant."""
    if value is None or (isinstance(value, str) and value):
        return None
    if isinstance(value, str):
        return ErrorDetail("Must name the request's tenant.", "invalid")
    return ErrorDetail("Must be a string.", "invalid_type")


def _single_body_tenant(data: Any, from_query: str | None) -> str | None:
    named = data.get("tenant_id") if isinstance(data, dict) else None
    if (error := _tenant_id_error(named)) is not None:
        raise exceptions.ValidationError({"tenant_id": [error]})
    if named and from_query and named != from_query:
        raise exceptions.ValidationError(
            {"tenant_id": ["Differs from the tenant_id parameter / X-Tenant-ID header."]}
        )
    return named or from_query


def _bulk_body_tenant(user, data: Any, from_query: str | None) -> str | None:
    """The one tenant a bulk body names; every tenant it names must allow creation."""
    named = _bulk_body_tenants(data)
    if from_query:
        named = list(dict.fromkeys([*named, from_query]))
    if len(named) <= 1:
        return named[0] if named else None
    for tenant_id in named:
        if not resolve_access(user, tenant_id).allows(Operation.CREATE_EVENTS):
            raise RoleNotAllowed()
    raise exceptions.ValidationError(
        {"tenant_id": [f"A bulk request writes to one tenant; this one names {len(named)}."]}
    )


def _bulk_body_tenants(data: Any) -> list[str]:
    """Distinct tenant ids named by a bulk body and its items, in order; 400 for a
    `tenant_id` that is not a non-empty string (`tenant_id`, `events[i].tenant_id`)."""
    if not isinstance(data, dict):
        return []
    values = [data.get("tenant_id")]
    errors: dict[str, Any] = {}
    if (error := _tenant_id_error(values[0])) is not None:
        errors["tenant_id"] = [error]
    items = data.get("events")
    item_errors: list[dict] = []
    for item in items if isinstance(items, list) else []:
        value = item.get("tenant_id") if isinstance(item, dict) else None
        values.append(value)
        error = _tenant_id_error(value)
        item_errors.append({} if error is None else {"tenant_id": [error]})
    if any(item_errors):
        errors["events"] = item_errors
    if errors:
        raise exceptions.ValidationError(errors)
    return list(dict.fromkeys(v for v in values if v))


class TenantPathAPIView(TenantScopedAPIView):
    """A view addressing one tenant by the `tenant_id` in its path.

    The tenant is the object here, so a hidden tenant answers 404, and platform
    administrators reach deactivated tenants (to reactivate them).
    """

    hidden_tenant_error = exceptions.NotFound
    include_inactive_tenants = True

    def requested_tenant_id(self, request: Request) -> str | None:
        return self.kwargs["tenant_id"]
