"""The stream's access events (STREAM_OPEN, STREAM_CLOSE) through logs.audit,
and where a WebSocket client connects from; used by logs/consumers.py."""

from __future__ import annotations

from types import SimpleNamespace

from channels.db import database_sync_to_async
from django.db import transaction

from tenants.scoping import TenantAccess, activate

from . import audit
from .stream import StreamFilter


@database_sync_to_async
def record_stream_access(
    access: TenantAccess,
    action: audit.AccessAction,
    origin: audit.Origin,
    wanted: StreamFilter,
    result_count: int | None,
    details: dict,
) -> str:
    """The stream's access event, committed before the caller goes on; its id."""
    with transaction.atomic():
        activate(access.tenant_id)
        return str(
            audit.record_access(
                tenant_id=access.tenant_id,
                actor=access.username,
                action=action,
                origin=origin,
                filters=wanted.as_params(),
                result_count=result_count,
                role=access.role,
                details=details,
            )
        )


def stream_origin(scope: dict) -> audit.Origin:
    """Where a WebSocket client connects from, read as for an HTTP request."""
    headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
    meta = {
        "REMOTE_ADDR": (scope.get("client") or ("",))[0],
        "HTTP_X_FORWARDED_FOR": headers.get("x-forwarded-for", ""),
        "HTTP_USER_AGENT": headers.get("user-agent"),
        "HTTP_X_REQUEST_ID": headers.get("x-request-id"),
    }
    return audit.Origin.from_request(SimpleNamespace(META=meta), via="stream")
