"""Helpers for the integrity tests: events through the public API, the sealing
consumer drained in process, checkpoints signed, and tampering done as the
PostgreSQL superuser (as a database administrator would)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from django.db import connection, transaction

from archival import storage
from integrity import services
from pipeline import drain as draining
from pipeline.consumers import by_name

ADMINS = {"tenant-a": "a_admin", "tenant-b": "b_admin"}
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)


@pytest.fixture
def sealing(settings):
    """The integrity consumer alone in the registry (drained by hand), and no
    checkpoint copies left in the archive bucket by earlier tests (the bucket
    outlives the test database; the tenants' ids are the same in every test)."""
    settings.PIPELINE_CONSUMERS = ["integrity.consumers.CONSUMER"]
    storage.ready()
    for tenant in ADMINS:
        storage.remove_others(f"{storage.tenant_prefix(tenant)}integrity/", keep=set())
    return by_name("integrity")


def ingest(parties, tenant: str, count: int, *, user: str = "ursula", **fields) -> list[str]:
    """`count` events in one bulk request (one batch); their ids, in order."""
    items = [
        {
            "id": str(uuid.uuid4()),
            "user_id": user,
            "action": "LOGIN",
            "resource_type": "session",
            "timestamp": (T0 + timedelta(seconds=n)).isoformat(),
            "before": {"role": "user"},
            "metadata": {"password": "hunter2", "n": n},
            **fields,
        }
        for n in range(count)
    ]
    response = parties.client(ADMINS[tenant]).post(
        "/api/v1/logs/bulk", {"tenant_id": tenant, "events": items}, format="json"
    )
    assert response.status_code == 201, response.json()
    return response.json()["ids"]


def seal(consumer, *tenants: str) -> None:
    """Drain the consumer to the end, then sign a checkpoint of each tenant."""
    while True:
        result = draining.drain(consumer)
        assert not result.failed, result
        if not result.more:
            break
    for tenant in tenants:
        services.checkpoint_create(tenant_id=tenant)


def superuser_sql(statement: str, params: tuple = ()) -> None:
    """Run SQL on the test database as the `postgres` superuser (no row-level security)."""
    settings = connection.settings_dict
    with psycopg.connect(
        host=settings["HOST"] or "127.0.0.1",
        port=settings["PORT"] or 5432,
        dbname=settings["NAME"],
        user="postgres",
        autocommit=True,
    ) as conn:
        conn.execute(statement, params)


def in_tenant(tenant: str, fn):
    from tenants.scoping import activate

    with transaction.atomic():
        activate(tenant)
        return fn()
