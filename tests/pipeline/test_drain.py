"""Draining in process: commit order, out-of-order commits, limits, poison batches."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction

from logs import services
from logs.validation import parse_bulk
from pipeline import drain as draining
from pipeline.models import BatchFailure, ConsumerState
from pipeline.selectors import consumer_lags
from tenants.models import Tenant
from tenants.scoping import TenantAccess, activate
from tests.pipeline import recorder

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _consumers(settings):
    settings.PIPELINE_CONSUMERS = [
        "tests.pipeline.recorder.CONSUMER",
        "tests.pipeline.recorder.FAILING",
    ]
    settings.PIPELINE_ANNOUNCE = True
    recorder.HANDLED.clear()
    recorder.FAILING_TENANTS.clear()
    Tenant.objects.create(id="tenant-a", name="A")
    Tenant.objects.create(id="tenant-b", name="B")
    yield
    recorder.HANDLED.clear()


def _access(tenant_id: str) -> TenantAccess:
    tenant = Tenant.objects.get(id=tenant_id)
    return TenantAccess(tenant=tenant, role="admin", username="alice")


def ingest(tenant_id: str, n: int = 2) -> list[str]:
    """Store n events for the tenant in one committed transaction; their ids."""
    now = datetime.now(UTC)
    body = {
        "events": [
            {"id": str(uuid.uuid4()), "user_id": "u", "action": "LOGIN", "resource_type": "r"}
            for _ in range(n)
        ]
    }
    events = parse_bulk(body, now=now, max_events=1000, oldest=now - timedelta(days=30))
    with transaction.atomic():
        activate(tenant_id)
        services.event_bulk_create(access=_access(tenant_id), events=events)
    return [str(e.id) for e in events]


def handled_ids(consumer: str = "test-recorder") -> list[str]:
    return [str(row["id"]) for batch in recorder.HANDLED for row in batch.rows]


def drain_recorder(**kwargs):
    from pipeline.consumers import by_name

    return draining.drain(by_name("test-recorder"), **kwargs)


def test_each_committed_batch_reaches_the_consumer_once_with_its_rows():
    first = ingest("tenant-a", 3)
    second = ingest("tenant-b", 2)
    result = drain_recorder()
    assert (result.batches, result.events, result.more) == (2, 5, False)
    assert sorted(handled_ids()) == sorted(first + second)
    assert [b.tenant_id for b in recorder.HANDLED] == ["tenant-a", "tenant-b"]
    assert drain_recorder().batches == 0  # a duplicate message finds nothing


def test_transactions_committing_out_of_order_are_not_skipped():
    """T1 writes first (smaller xid and batch id) but commits after T2: a
    sequence or time watermark taken after T2 would pass T1's batch for ever."""
    inserted, release = threading.Event(), threading.Event()
    late: list[str] = []

    def slow_writer():
        try:
            now = datetime.now(UTC)
            item = {"id": str(uuid.uuid4()), "user_id": "u", "action": "X", "resource_type": "r"}
            events = parse_bulk(
                {"events": [item]}, now=now, max_events=10, oldest=now - timedelta(1)
            )
            with transaction.atomic():
                activate("tenant-a")
                services.event_bulk_create(access=_access("tenant-a"), events=events)
                late.append(item["id"])
                inserted.set()
                release.wait(30)
        finally:
            connection.close()

    writer = threading.Thread(target=slow_writer)
    writer.start()
    assert inserted.wait(30)
    early = ingest("tenant-b", 1)  # starts after T1, commits first
    drain_recorder()
    assert handled_ids() == early  # T1 still running: not handled, not passed
    first_state = ConsumerState.objects.get(name="test-recorder").watermark
    release.set()
    writer.join(30)
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM pipeline_batch ORDER BY id")
        batch_ids = [row[0] for row in cursor.fetchall()]
    assert batch_ids[0] < batch_ids[1]  # T1's batch has the smaller number...
    drain_recorder()
    assert handled_ids() == early + late  # ...and is handled after T2's, not skipped
    assert ConsumerState.objects.get(name="test-recorder").watermark != first_state


def test_the_batch_limit_stops_between_transactions_and_the_next_drain_continues():
    ids = [i for _ in range(5) for i in ingest("tenant-a", 1)]
    first = drain_recorder(max_batches=2)
    assert (first.batches, first.more) == (2, True)
    assert handled_ids() == ids[:2]
    while drain_recorder(max_batches=2).more:
        pass
    assert handled_ids() == ids


def test_a_poison_batch_is_retried_then_dead_and_passed_while_other_consumers_go_on(settings):
    from pipeline.consumers import by_name

    settings.PIPELINE_MAX_ATTEMPTS = 3
    recorder.FAILING_TENANTS.add("tenant-b")
    good_before = ingest("tenant-a", 1)
    ingest("tenant-b", 1)
    good_after = ingest("tenant-a", 1)
    failing = by_name("test-failing")
    results = [draining.drain(failing) for _ in range(3)]
    assert [r.failed for r in results] == [True, True, False]
    assert results[-1].dead == 1
    failure = BatchFailure.objects.get(consumer="test-failing")
    assert failure.attempts == 3 and failure.dead_at is not None
    assert "poison batch" in failure.last_error
    handled = [str(r["id"]) for b in recorder.HANDLED for r in b.rows]
    # the good batch before the poison is handled on each attempt (at least once)...
    assert set(handled) == set(good_before + good_after)
    # ...the recorder consumer is not held back by the other one's poison
    recorder.HANDLED.clear()
    drain_recorder()
    assert len(handled_ids()) == 3
    lags = {lag["consumer"]: lag for lag in consumer_lags()}
    assert lags["test-failing"]["dead_batches"] == 1
    assert lags["test-failing"]["pending_batches"] == 0


def test_lag_counts_committed_batches_not_yet_handled():
    ingest("tenant-a", 4)
    ingest("tenant-a", 1)
    lag = {lag["consumer"]: lag for lag in consumer_lags()}["test-recorder"]
    assert (lag["pending_batches"], lag["pending_events"]) == (2, 5)
    assert lag["oldest_pending_seconds"] >= 0
    drain_recorder()
    lag = {lag["consumer"]: lag for lag in consumer_lags()}["test-recorder"]
    assert (lag["pending_batches"], lag["pending_events"], lag["oldest_pending_seconds"]) == (
        0,
        0,
        None,
    )


def test_a_retention_deletion_is_a_batch_too():
    ingest("tenant-a", 2)
    with transaction.atomic():
        activate("tenant-a")
        deleted = services.events_delete(
            access=_access("tenant-a"), before=datetime.now(UTC) + timedelta(minutes=10)
        )
    assert deleted == 2
    drain_recorder()
    kinds = [(b.kind, b.events) for b in recorder.HANDLED]
    assert kinds == [("insert", 2), ("delete", 2)]
    assert recorder.HANDLED[1].before is not None


def test_without_announcing_no_batch_is_written(settings):
    settings.PIPELINE_ANNOUNCE = False
    ingest("tenant-a", 2)
    assert drain_recorder().batches == 0


def test_a_dead_batch_is_on_the_dead_letter_queue_and_redriven_after_the_fix(settings, sqs_queues):
    import json
    from io import StringIO

    from django.core.management import call_command

    from auditlog_project.aws import sqs_client
    from auditlog_project.queues import dead_letter_name
    from pipeline.consumers import by_name

    settings.PIPELINE_MAX_ATTEMPTS = 1
    recorder.FAILING_TENANTS.add("tenant-b")
    poison = ingest("tenant-b", 2)
    assert draining.drain(by_name("test-failing")).dead == 1
    client = sqs_client()
    url = client.get_queue_url(QueueName=dead_letter_name("default"))["QueueUrl"]
    bodies = []
    for _ in range(5):
        found = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=1)
        for message in found.get("Messages", []):
            try:  # the queue is shared: other tests' dead Celery messages are not JSON
                bodies.append(json.loads(message["Body"]))
            except ValueError:
                continue
        if any(isinstance(b, dict) and b.get("consumer") == "test-failing" for b in bodies):
            break
    record = next(b for b in bodies if isinstance(b, dict) and b.get("consumer") == "test-failing")
    assert record["type"] == "pipeline.dead_batch" and record["tenant_id"] == "tenant-b"
    recorder.HANDLED.clear()
    recorder.FAILING_TENANTS.clear()  # the fix
    out = StringIO()
    call_command("pipeline_redrive", "--consumer", "test-failing", "--purge-dlq", stdout=out)
    assert "test-failing: 1/1 batch(es) handled" in out.getvalue()
    assert sorted(handled_ids()) == sorted(poison)
    assert BatchFailure.objects.get(consumer="test-failing").redriven_at is not None
    out = StringIO()
    call_command("pipeline_redrive", "--list", stdout=out)
    assert "0 dead batch(es)" in out.getvalue()


def test_a_drain_takes_about_the_event_cap_in_whole_transactions(settings):
    settings.PIPELINE_DRAIN_EVENTS = 25
    sizes = [10, 10, 10, 30, 5]
    ids = [ingest("tenant-a", n) for n in sizes]
    first = drain_recorder()
    assert (first.events, first.more) == (20, True)  # a third batch would pass 25
    assert drain_recorder().events == 10
    assert drain_recorder().events == 30  # one transaction over the cap: taken whole
    last = drain_recorder()
    assert (last.events, last.more) == (5, False)
    assert handled_ids() == [i for group in ids for i in group]


def test_a_day_deleted_by_the_retention_run_is_a_delete_batch():
    from archival.retention.hooks import ON_DAY_DELETED, day_deleted
    from pipeline.retention import record_day_deleted

    assert record_day_deleted in ON_DAY_DELETED
    start = datetime(2026, 1, 5, tzinfo=UTC)
    day_deleted("tenant-a", start, start + timedelta(days=1))
    drain_recorder()
    (batch,) = recorder.HANDLED
    assert (batch.kind, batch.tenant_id, batch.timestamps, batch.before) == (
        "delete",
        "tenant-a",
        (start,),
        start + timedelta(days=1),
    )
