"""The queue's order under concurrent writers, the sweep, and real worker processes."""

from __future__ import annotations

import os
import signal
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from destinations import queueing, selectors, services, tasks
from destinations.models import Destination, QueueItem
from pipeline import announce, batches
from pipeline.watermark import Snapshot
from tenants.models import Tenant
from tenants.scoping import activate
from tests.destinations.helpers import as_tenant, deliver, drain, ingest, state
from tests.destinations.receiver import running_receiver
from tests.destinations.test_delivery import register
from tests.pipeline.test_workers import wait_for
from tests.processes import celery_worker

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def relaxed(settings):
    settings.DESTINATIONS_ALLOW_PRIVATE = True
    settings.DESTINATIONS_REQUIRE_HTTPS = False
    settings.PIPELINE_CONSUMERS = ["destinations.queueing.CONSUMER"]
    settings.PIPELINE_ANNOUNCE = True
    return settings


@pytest.fixture
def receiver():
    with running_receiver() as running:
        yield running


def test_a_replay_waits_for_an_uncommitted_drain_so_no_item_is_passed(parties, relaxed, receiver):
    """The drain numbers its item first but commits late; the replay must come after it,
    and a delivery meanwhile must not move the cursor past the uncommitted item."""
    created = register(parties, receiver.url)
    ids = ingest("tenant-a", 2, at=datetime.now(UTC) - timedelta(hours=1))
    holding, release = threading.Event(), threading.Event()
    replayed: list[int] = []
    pending_ids: list[int] = []

    def slow_drain() -> None:
        try:
            with transaction.atomic():
                pending = batches.pending(Snapshot.nothing(), batches.current_snapshot(), 10)
                pending_ids.extend(batch.id for batch in pending)
                queueing.enqueue_batches(pending)
                holding.set()
                release.wait(30)
        finally:
            connection.close()

    def replay() -> None:
        try:
            with transaction.atomic():
                activate("tenant-a")
                destination = Destination.objects.get(pk=created["id"])
                since = timezone.now() - timedelta(hours=2)
                replayed.append(queueing.enqueue_replay(destination, since))
        finally:
            connection.close()

    drainer = threading.Thread(target=slow_drain)
    drainer.start()
    assert holding.wait(30)
    replayer = threading.Thread(target=replay)
    replayer.start()
    replayer.join(1.0)
    assert replayer.is_alive()  # waits for the drain's row lock
    assert deliver(created["id"]).posts == 0  # nothing committed: the cursor stays at 0
    release.set()
    drainer.join(30)
    replayer.join(30)
    assert replayed == [2]
    with as_tenant("tenant-a"):
        assert list(
            QueueItem.objects.filter(destination_id=created["id"])
            .order_by("seq")
            .values_list("seq", "batch_id")
        ) == [(1, pending_ids[0]), (2, None)]  # the drain's item first, the replay's after it
    deliver(created["id"])
    # One POST holds both items; an event in both is sent once, at its first place.
    assert receiver.event_ids() == ids and len(receiver.requests) == 1


def test_the_sweep_finds_due_destinations_and_prunes_delivered_items(parties, relaxed, receiver):
    created = register(parties, receiver.url)
    ingest("tenant-a", 1)
    drain()
    with as_tenant("tenant-a"):
        due = selectors.due_destinations("tenant-a").values_list("pk", flat=True)
        assert [str(pk) for pk in due] == [created["id"]]
    deliver(created["id"])
    with as_tenant("tenant-a"):
        assert not selectors.due_destinations("tenant-a").exists()
    assert tasks.sweep() == {"due": 0, "pruned": 0}  # delivered, but younger than the keep
    with as_tenant("tenant-a"):
        QueueItem.objects.update(created_at=timezone.now() - timedelta(hours=200))
    assert tasks.sweep() == {"due": 0, "pruned": 1}
    ingest("tenant-a", 1)
    drain()
    with as_tenant("tenant-a"):
        Destination.objects.filter(pk=created["id"]).update(
            next_attempt_at=timezone.now() + timedelta(minutes=5)
        )
        assert not selectors.due_destinations("tenant-a").exists()  # waiting for its retry


@pytest.mark.timeout(300)
def test_real_workers_deliver_from_ingest_to_the_receiver(relaxed, test_env, sqs_queues):
    """Ingest commits -> SQS -> a worker drains the pipeline -> a worker delivers."""
    Tenant.objects.create(id="tenant-a", name="A")
    env = worker_env(test_env, DESTINATIONS_RETRY_SECONDS="0.5")
    with running_receiver() as receiver:
        receiver.statuses = [500]  # the first POST fails: a retry through SQS follows
        created = siem(receiver.url)
        with celery_worker(env):
            ids = [i for _ in range(3) for i in ingest("tenant-a", 4)]
            announce.flush()
            wait_for(lambda: sum(len(r.event_ids) for r in receiver.requests[1:]) >= 12, 120)
        delivered = receiver.event_ids()
        failed = receiver.requests[0].event_ids
        assert delivered[len(failed) :] == ids  # after the failed POST: all, in order, once
        destination = state(created.destination.pk)
        assert destination.delivered_events == 12 and destination.failures == 0


def test_a_worker_killed_mid_post_loses_nothing_and_the_batch_is_sent_again(
    relaxed, test_env, sqs_queues
):
    """SIGKILL while the receiver holds the first POST: the cursor has not moved,
    the dead worker's advisory lock goes with its connection, and the sweep's
    next worker sends that batch again, then the rest, in order."""
    Tenant.objects.create(id="tenant-a", name="A")
    env = worker_env(test_env, DESTINATIONS_TIMEOUT_SECONDS="30")
    with running_receiver() as receiver:
        receiver.hold_first = 20
        created = siem(receiver.url)
        with celery_worker(env) as worker:
            ids = [i for _ in range(3) for i in ingest("tenant-a", 4)]
            announce.flush()
            wait_for(lambda: len(receiver.requests) >= 1, 60)  # mid-POST, held
            os.killpg(worker.pid, signal.SIGKILL)  # no answer read, no cursor moved
            worker.wait()
        held = receiver.requests[0].event_ids
        assert held == ids[: len(held)]
        assert state(created.destination.pk).cursor == 0
        assert selectors_due("tenant-a")  # the cursor is behind: the sweep finds it
        with celery_worker(env):
            tasks.sweep.delay()  # what beat sends every DESTINATIONS_SWEEP_SECONDS
            wait_for(lambda: receiver.event_ids()[len(held) :] == ids, 90)
        assert receiver.event_ids()[len(held) :] == ids  # the held batch again, then the rest
        destination = state(created.destination.pk)
        assert destination.delivered_events == 12
        assert destination.cursor == destination.last_seq


def selectors_due(tenant_id: str) -> bool:
    with as_tenant(tenant_id):
        return selectors.due_destinations(tenant_id).exists()


def worker_env(test_env: dict, **extra: str) -> dict:
    """A worker running the destinations consumer, allowed a receiver on 127.0.0.1."""
    return {
        **test_env,
        "PIPELINE_CONSUMERS": "destinations.queueing.CONSUMER",
        "DESTINATIONS_ALLOW_PRIVATE": "true",
        "DESTINATIONS_REQUIRE_HTTPS": "false",
        **extra,
    }


def siem(url: str) -> services.Created:
    """Tenant A's destination at `url`, registered through the service."""
    with as_tenant("tenant-a"):
        return services.destination_create(
            tenant=Tenant.objects.get(id="tenant-a"),
            name="siem",
            url=url,
            secret="a-secret-of-some-length",
            actor="alice",
        )
