"""Helpers for the logs tests: event bodies and seeding through the public API."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta


def event_body(**overrides) -> dict:
    body = {
        "tenant_id": "tenant-a",
        "user_id": "ursula",
        "action": "login",
        "resource_type": "session",
    }
    body.update(overrides)
    return {key: value for key, value in body.items() if value is not ...}


def at(minutes_ago: float) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes_ago)).isoformat()


def seed(parties, tenant: str, events: list[dict]) -> list[str]:
    """Store events through the bulk endpoint as the tenant's admin; their ids."""
    admin = "a_admin" if tenant == "tenant-a" else "b_admin"
    items = [{"id": str(uuid.uuid4()), **event} for event in events]
    response = parties.client(admin).post(
        "/api/v1/logs/bulk", {"tenant_id": tenant, "events": items}, format="json"
    )
    assert response.status_code == 201, response.json()
    return response.json()["ids"]


def stored(tenant_id: str = "tenant-a"):
    """The tenant's stored events, read as the application role under RLS."""
    from django.db import transaction

    from logs.models import Event
    from tenants.scoping import activate

    with transaction.atomic():
        activate(tenant_id)
        return list(Event.objects.values("id", "tenant_id", "action", "user_id", "timestamp"))


# How long an in-process stream test waits for a disconnected consumer to end
# (asgiref's default is 1 s, then it cancels the consumer): ending records the
# STREAM_CLOSE access event and frees the stream's place, which a loaded
# machine once took over a second to do, and the test then missed the event.
DISCONNECT_SECONDS = 10
