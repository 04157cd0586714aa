"""The service's own audit trail: `access` events (reads of the logs) and `admin`
events (changes to a tenant), written into the tenant's own log.

Two entry points, keyword-only, callable from any app:

- `record_access(tenant_id=, actor=, action=, origin=, filters=, result_count=, ...)`:
  one per read request (SEARCH, VIEW, EXPORT, STATS, STREAM_OPEN,
  STREAM_CLOSE) and per cleanup run (CLEANUP). `resource_type` is `audit_log`,
  `user_id` the caller's username; `metadata` holds the filters used and the
  number of results (`results`, null when not known, as for a streamed export).
- `record_admin(tenant_id=, actor=, action=, resource_type=, resource_id=,
  before=, after=, origin=, ...)`: one per change to a tenant (members and
  roles, tenant settings and retention, users' deactivation and password
  changes, policies, keys), with what changed before and after. Keys that
  name a secret are dropped from before/after whatever the caller passes.

Durability: both write in the CALLER'S transaction, before it commits. A read
request runs in one transaction (ATOMIC_REQUESTS): its access event commits
with it, before Django hands the answer to the server, so no 2xx answer leaves
without its event, and a failure to record fails the request (500, nothing
answered). Cost: one INSERT and the commit's WAL flush; measured in
docs/performance.md. The tenant is switched for the insert (row-level
security) and switched back (`tenants.scoping.activated`), so recording into
tenant B from work in tenant A never widens what A's transaction sees (access
events are written by the read that activated the tenant already: no switch,
no extra round trip).

No recursion: only requests create access events, never the storing or the
streaming of events (an access event is stored like any event, published to
the stream after COMMIT, and never recorded again).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from uuid import UUID

from django.db import connection, transaction
from django.utils import timezone

from masking.rules import names_secret, normalise_key
from tenants.scoping import activated

from .choices import CONTROL_RE, Category
from .filtersets import EventFilterSet
from .validation import parse_event

AUDIT_LOG = "audit_log"
# Before/after never carry a key that names a secret, even when a caller passes
# it: one the masking rules name (masking.rules.names_secret), or one that holds
# any of these anywhere in its name; keys compared as masking compares them
# (case, '-', '_', '.' and spaces ignored).
SECRET_KEY_PARTS = ("password", "token", "secret", "privatekey", "apikey", "credential")


class AccessAction(StrEnum):
    SEARCH = "SEARCH"  # GET /logs
    VIEW = "VIEW"  # GET /logs/{id}
    EXPORT = "EXPORT"
    STATS = "STATS"
    STREAM_OPEN = "STREAM_OPEN"
    STREAM_CLOSE = "STREAM_CLOSE"
    CLEANUP = "CLEANUP"


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a recorded action came from: `via` is api, stream, admin (the Django
    admin site), command (manage.py) or task; the client's address and agent
    when there is a client."""

    via: str = "api"
    ip_address: str | None = None
    user_agent: str | None = None
    request_id: str | None = None

    @classmethod
    def from_request(cls, request: Any, *, via: str | None = None) -> Origin:
        """From a Django or DRF request (the client address behind proxies).

        `via` defaults to the request's `audit_via` (the dashboard, which calls
        the API's views in process, sets it), else `api`."""
        from auditlog_project.ratelimits import client_ip

        meta = request.META
        return cls(
            via=via or str(getattr(request, "audit_via", "api")),
            ip_address=client_ip(request),
            user_agent=meta.get("HTTP_USER_AGENT"),
            request_id=meta.get("HTTP_X_REQUEST_ID"),
        )


COMMAND = Origin(via="command")
TASK = Origin(via="task")


@dataclass(frozen=True, slots=True)
class ChangedBy:
    """Who makes a change to a tenant, and from where (admin events)."""

    username: str
    origin: Origin = Origin()

    @classmethod
    def from_request(cls, request: Any, *, via: str | None = None) -> ChangedBy:
        return cls(request.user.get_username(), Origin.from_request(request, via=via))


# Unattended changes: management commands, tasks, the shell.
SYSTEM = ChangedBy("system", COMMAND)
_acting: ContextVar[ChangedBy] = ContextVar("auditlog_acting", default=SYSTEM)


def current_actor() -> ChangedBy:
    """Who is changing things in this context: set per request by the admin
    site's middleware (`acting_as`), `SYSTEM` otherwise."""
    return _acting.get()


@contextmanager
def acting_as(by: ChangedBy) -> Iterator[None]:
    token = _acting.set(by)
    try:
        yield
    finally:
        _acting.reset(token)


def admin_site_actor(get_response: Callable) -> Callable:
    """Middleware: changes made through the Django admin are recorded as made by
    the signed-in administrator, `via` admin (API views pass their caller)."""

    def middleware(request: Any) -> Any:
        if not request.path.startswith("/admin/") or not request.user.is_authenticated:
            return get_response(request)
        with acting_as(ChangedBy.from_request(request, via="admin")):
            return get_response(request)

    return middleware


def filters_used(params: Mapping[str, Any]) -> dict[str, str]:
    """The list filters a request named (the contract's filter names only)."""
    return {name: str(params[name]) for name in EventFilterSet.base_filters if params.get(name)}


def record_access(
    *,
    tenant_id: str,
    actor: str,
    action: AccessAction | str,
    origin: Origin | None = None,
    filters: Mapping[str, Any] | None = None,
    result_count: int | None = None,
    role: str | None = None,
    resource_id: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> UUID:
    """Store one `access` event in `tenant_id`'s log, in the caller's transaction; its id.

    `filters`: the filters the read used (`filters_used(params)`); `result_count`:
    how many events it returned (None when not known); `role`: the caller's role
    in the tenant (`platform_admin` for platform administrators); `details`:
    more metadata (the export format, the stream's delivered count, ...).
    The caller has activated `tenant_id` (`tenants.scoping.activate`; every
    tenant-scoped view has): row-level security refuses the insert otherwise.
    """
    metadata: dict[str, Any] = {
        "filters": dict(filters or {}),
        "results": result_count,
        **({"role": role} if role else {}),
        "via": (origin or Origin()).via,
        **(details or {}),
    }
    return _record(
        tenant_id,
        Category.ACCESS,
        {
            "user_id": actor,
            "action": str(action),
            "resource_type": AUDIT_LOG,
            "resource_id": resource_id,
            "metadata": metadata,
        },
        origin=origin,
        switch_tenant=False,
    )


def record_read(
    *,
    access: Any,
    request: Any,
    action: AccessAction,
    params: Mapping[str, Any],
    result_count: int | None,
    resource_id: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> UUID:
    """`record_access` for a tenant-scoped read request (`TenantScopedAPIView`):
    the caller's `TenantAccess` and request give the tenant, actor, role and origin."""
    return record_access(
        tenant_id=access.tenant_id,
        actor=access.username,
        action=action,
        origin=Origin.from_request(request),
        filters=filters_used(params),
        result_count=result_count,
        role=access.role,
        resource_id=resource_id,
        details=details,
    )


def record_admin(
    *,
    tenant_id: str,
    actor: str,
    action: str,
    resource_type: str,
    resource_id: str | None = None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    origin: Origin | None = None,
    details: Mapping[str, Any] | None = None,
    message: str | None = None,
    severity: str | None = None,
) -> UUID:
    """Store one `admin` event in `tenant_id`'s log, in the caller's transaction; its id.

    `actor`: who made the change (a username; `system` for unattended work);
    `action`: what was done (MEMBER_ADD, MEMBER_ROLE_CHANGE, TENANT_UPDATE, ...);
    `before`/`after`: the changed object's relevant fields (None for a creation
    or a removal); keys naming a secret are dropped. The tenant is activated
    for the insert and the previous one (if any) restored after it.
    """
    metadata = {"via": (origin or Origin()).via, **(details or {})}
    return _record(
        tenant_id,
        Category.ADMIN,
        {
            "user_id": actor,
            "action": action,
            "resource_type": resource_type,
            "resource_id": resource_id,
            "before": _without_secrets(before),
            "after": _without_secrets(after),
            "metadata": metadata,
            "message": message,
            "severity": severity,  # None: the default (INFO)
        },
        origin=origin,
        switch_tenant=True,
    )


def _record(
    tenant_id: str,
    category: str,
    values: dict[str, Any],
    *,
    origin: Origin | None,
    switch_tenant: bool,
) -> UUID:
    from . import services  # services import tenants.scoping, which imports nothing of ours

    if not connection.in_atomic_block:
        raise RuntimeError("audit records are written in the caller's transaction")
    origin = origin or Origin()
    raw = {
        **{name: value for name, value in values.items() if value is not None},
        "ip_address": _valid_ip(origin.ip_address),
        "user_agent": _clean(origin.user_agent, 1024),
        "request_id": _clean(origin.request_id, 128),
    }
    event = parse_event(raw, now=timezone.now())
    # An access event goes where the read activated the tenant: no extra round trip.
    tenant = activated(tenant_id) if switch_tenant else nullcontext()
    with transaction.atomic(savepoint=False), tenant:
        rows, _ = services.store_events(tenant_id, [event], category=category)
    return rows[0]["id"]


def _without_secrets(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {
            str(key): _without_secrets(item)
            for key, item in value.items()
            if not _names_secret(str(key))
        }
    if isinstance(value, list | tuple):
        return [_without_secrets(item) for item in value]
    return value


def _names_secret(key: str) -> bool:
    normalised = normalise_key(key)
    return names_secret(normalised) or any(part in normalised for part in SECRET_KEY_PARTS)


def _valid_ip(value: str | None) -> str | None:
    try:
        return str(ipaddress.ip_address(value or ""))
    except ValueError:
        return None


def _clean(value: str | None, limit: int) -> str | None:
    return CONTROL_RE.sub("", value or "")[:limit] or None
