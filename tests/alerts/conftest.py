"""Helpers for the alerts tests: rules and events through the public API, the
pipeline's drain run in process, the stored alerts read under row-level security."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction

from alerts.models import Alert
from pipeline import drain as draining
from pipeline.consumers import by_name
from tenants.scoping import activate

ADMINS = {"tenant-a": "a_admin", "tenant-b": "b_admin"}
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)


@pytest.fixture
def alerts_consumer(settings):
    """The alerts consumer alone in the registry, announcing off (drained by hand)."""
    settings.PIPELINE_CONSUMERS = ["alerts.evaluate.CONSUMER"]
    settings.PIPELINE_ANNOUNCE = True
    return by_name("alerts")


def threshold_rule(**overrides) -> dict:
    """Five failed logins by one user in five minutes."""
    rule = {
        "name": "brute force",
        "filters": {"action": "LOGIN_FAILED"},
        "condition": {
            "type": "threshold",
            "count": 5,
            "window_seconds": 300,
            "group_by": "user_id",
        },
        "cooldown_seconds": 0,
    }
    rule.update(overrides)
    return rule


def create_rule(parties, tenant: str, body: dict) -> dict:
    response = parties.client(ADMINS[tenant]).post(
        f"/api/v1/alerts/rules?tenant_id={tenant}", body, format="json"
    )
    assert response.status_code == 201, response.json()
    return response.json()


def ingest(parties, tenant: str, *events: dict) -> list[str]:
    """Store events (`at`: seconds after T0) through the bulk endpoint; their ids."""
    items = []
    for event in events:
        event = dict(event)
        seconds = event.pop("at", 0)
        items.append(
            {
                "id": str(uuid.uuid4()),
                "user_id": "mallory",
                "action": "LOGIN_FAILED",
                "resource_type": "session",
                "timestamp": (T0 + timedelta(seconds=seconds)).isoformat(),
                **event,
            }
        )
    response = parties.client(ADMINS[tenant]).post(
        "/api/v1/logs/bulk", {"tenant_id": tenant, "events": items}, format="json"
    )
    assert response.status_code == 201, response.json()
    return response.json()["ids"]


def failed_logins(parties, tenant: str, *seconds: float, **fields) -> list[str]:
    """One request per event: each its own batch, as separate clients would send."""
    return [ingest(parties, tenant, {"at": s, **fields})[0] for s in seconds]


def drain(consumer):
    result = draining.drain(consumer)
    assert not result.failed, result
    return result


def fired(tenant: str) -> list[Alert]:
    """The tenant's fired alerts, oldest trigger first (read under its RLS)."""
    with transaction.atomic():
        activate(tenant)
        return list(Alert.objects.order_by("window_end", "fired_at"))
