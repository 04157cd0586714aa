"""Helpers for the archival tests: a bucket of the test's own, dated events, parts."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, date, datetime, time, timedelta

import pyarrow.parquet as pq
import pytest
from django.db import transaction

from auditlog_project.aws import s3_client
from logs.models import Event
from tenants.scoping import activate
from tests.logs.conftest import event_body, seed

__all__ = ["archive_bucket", "day_events", "events_of_day", "read_part", "seed", "some_day"]


@pytest.fixture
def archive_bucket(settings, sqs_endpoint) -> str:
    """A fresh archive bucket for this test (created on first use by the code)."""
    settings.ARCHIVE_BUCKET = f"archive-test-{uuid.uuid4().hex[:12]}"
    return settings.ARCHIVE_BUCKET


@pytest.fixture
def archive_off(parties):
    """Tenants A and B delete expired events without archiving them."""
    for tenant in (parties.tenant_a, parties.tenant_b):
        tenant.archive_before_delete = False
        tenant.save()
    return parties


def some_day(days_ago: int = 3) -> date:
    return datetime.now(UTC).date() - timedelta(days=days_ago)


def day_events(day: date, count: int, **overrides) -> list[dict]:
    """`count` events spread over the UTC day, with every kind of column filled."""
    start = datetime.combine(day, time.min, tzinfo=UTC)
    step = timedelta(days=1) / max(count, 1)
    events = []
    for index in range(count):
        events.append(
            event_body(
                timestamp=(start + step * index).isoformat(),
                action=("LOGIN", "VIEW", "UPDATE")[index % 3],
                resource_type="document",
                resource_id=f"doc-{index}",
                severity=("INFO", "WARNING", "ERROR")[index % 3],
                ip_address="10.0.0.1" if index % 2 else "2001:db8::1",
                message=f"event {index} of the day ünïcode",
                metadata={"index": index, "tags": ["a", "b"], "nested": {"k": "v"}},
                before={"n": index} if index % 2 else None,
                session_id=f"s-{index % 4}",
                request_id=f"r-{index}",
                **overrides,
            )
        )
    return events


def events_of_day(tenant_id: str, day: date) -> list[dict]:
    """The tenant's stored events of the day, read through the ORM under RLS."""
    start = datetime.combine(day, time.min, tzinfo=UTC)
    with transaction.atomic():
        activate(tenant_id)
        return list(
            Event.objects.filter(
                timestamp__gte=start, timestamp__lt=start + timedelta(days=1)
            ).values()
        )


def read_part(bucket: str, key: str) -> list[dict]:
    body = s3_client().get_object(Bucket=bucket, Key=key)["Body"].read()
    return pq.read_table(io.BytesIO(body)).to_pylist()
