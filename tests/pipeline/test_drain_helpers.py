"""Storing events through the ingest service, outside HTTP (pipeline tests)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from django.db import transaction

from logs import services
from logs.validation import parse_bulk
from tenants.models import Tenant
from tenants.scoping import TenantAccess, activate


def access(tenant_id: str) -> TenantAccess:
    return TenantAccess(tenant=Tenant.objects.get(id=tenant_id), role="admin", username="alice")


def new_events(n: int, **fields):
    now = datetime.now(UTC)
    items = [
        {"id": str(uuid.uuid4()), "user_id": "u", "action": "LOGIN", "resource_type": "r", **fields}
        for _ in range(n)
    ]
    return parse_bulk({"events": items}, now=now, max_events=1000, oldest=now - timedelta(days=30))


def ingest_in_test_transaction(tenant_id: str, n: int = 2) -> list[str]:
    """Store n events in the current (test) transaction; their ids."""
    events = new_events(n)
    with transaction.atomic():
        activate(tenant_id)
        services.event_bulk_create(access=access(tenant_id), events=events)
    return [str(e.id) for e in events]
