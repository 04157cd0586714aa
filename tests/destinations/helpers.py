"""Shared steps of the destination tests: store events, drain the consumer, deliver."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from django.db import transaction

from destinations import delivery
from destinations.models import Destination
from logs import services
from logs.validation import parse_bulk
from pipeline import drain as draining
from pipeline.consumers import by_name
from tenants.models import Tenant
from tenants.scoping import TenantAccess, activate


def ingest(tenant_id: str, n: int = 2, *, at: datetime | None = None) -> list[str]:
    """Store n events of the tenant in one committed transaction; their ids, in order."""
    now = datetime.now(UTC)
    items = [
        {
            "id": str(uuid.uuid4()),
            "user_id": "u",
            "action": "LOGIN",
            "resource_type": "r",
            "timestamp": (at or now).isoformat(),
            "metadata": {"n": i},
            "after": {"email": "ann@example.org", "plan": "pro"},  # sealed at rest
        }
        for i in range(n)
    ]
    events = parse_bulk(
        {"events": items}, now=now, max_events=1000, oldest=now - timedelta(days=30)
    )
    access = TenantAccess(tenant=Tenant.objects.get(id=tenant_id), role="admin", username="a")
    with transaction.atomic():
        activate(tenant_id)
        services.event_bulk_create(access=access, events=events)
    return [item["id"] for item in items]


def drain():
    """The destinations consumer takes every committed batch (one pipeline drain)."""
    return draining.drain(by_name("destinations"))


def deliver(destination_id, tenant_id: str = "tenant-a") -> delivery.Outcome:
    return delivery.deliver(destination_id, tenant_id)


@contextmanager
def as_tenant(tenant_id: str = "tenant-a") -> Iterator[None]:
    """A transaction in the tenant: the destinations tables are under row-level security."""
    with transaction.atomic():
        activate(tenant_id)
        yield


def state(destination_id, tenant_id: str = "tenant-a") -> Destination:
    with as_tenant(tenant_id):
        return Destination.objects.get(pk=destination_id)
