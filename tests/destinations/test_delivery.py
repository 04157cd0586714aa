"""Delivery to a real HTTP receiver: signed, ordered batches; retries and parking;
replay; a pipeline batch handed twice; the SSRF guard at delivery time."""

from __future__ import annotations

import hmac
import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction

from destinations import queueing, signing
from destinations.choices import State
from destinations.delivery import backoff_seconds
from destinations.models import QueueItem
from pipeline import batches
from pipeline.watermark import Snapshot
from tests.destinations.helpers import as_tenant, deliver, drain, ingest, state
from tests.destinations.receiver import running_receiver

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def relaxed(settings):
    """The local stack's guard: a receiver on 127.0.0.1 over http is allowed."""
    settings.DESTINATIONS_ALLOW_PRIVATE = True
    settings.DESTINATIONS_REQUIRE_HTTPS = False
    settings.DESTINATIONS_RETRY_SECONDS = 0
    settings.PIPELINE_CONSUMERS = ["destinations.queueing.CONSUMER"]
    settings.PIPELINE_ANNOUNCE = True
    return settings


@pytest.fixture
def receiver():
    with running_receiver() as running:
        yield running


def register(parties, url: str, **extra) -> dict:
    answer = parties.client("a_admin").post(
        "/api/v1/destinations", {"name": "siem", "url": url, **extra}, format="json"
    )
    assert answer.status_code == 201, answer.content
    return answer.json()


def test_batches_arrive_signed_in_commit_order_and_as_the_api_shows_events(
    parties, relaxed, receiver
):
    relaxed.DESTINATIONS_BATCH_EVENTS = 3
    created = register(parties, receiver.url)
    ids = ingest("tenant-a", 2) + ingest("tenant-a", 3) + ingest("tenant-a", 1)
    ingest("tenant-b", 2)  # another tenant's events never reach this destination
    drain()
    outcome = deliver(created["id"])
    assert (outcome.delivered, outcome.posts) == (6, 3)
    assert [len(r.event_ids) for r in receiver.requests] == [2, 3, 1]  # whole batches, <= 3
    assert receiver.event_ids() == ids
    now = time.time()
    for request in receiver.requests:
        assert request.path == "/hook"
        assert signing.verify(created["secret"], request.headers, request.body, now=now)
        stamp = request.headers["X-Auditlog-Timestamp"]
        assert abs(int(stamp) - now) < 60
        mac = hmac.new(created["secret"].encode(), f"{stamp}.".encode() + request.body, "sha256")
        assert request.headers["X-Auditlog-Signature"] == f"sha256={mac.hexdigest()}"
        assert not signing.verify(
            "another-secret-of-length", request.headers, request.body, now=now
        )
    first = json.loads(receiver.requests[0].body)["events"][0]
    shown = parties.client("a_admin").get(f"/api/v1/logs/{ids[0]}").json()
    assert first == shown  # decrypted, same field names and formats as the API
    assert first["after"]["plan"] == "pro"  # the sealed field, in clear
    after = state(created["id"])
    assert (after.cursor, after.delivered_events, after.failures) == (3, 6, 0)
    assert deliver(created["id"]).posts == 0  # nothing left: no empty POST


def test_a_failing_receiver_is_retried_with_backoff_then_parked_and_unparked(
    parties, relaxed, receiver
):
    relaxed.DESTINATIONS_MAX_ATTEMPTS = 3
    created = register(parties, receiver.url)
    ids = ingest("tenant-a", 2)
    drain()
    receiver.default = 500
    first = deliver(created["id"])
    assert first.retry_in == backoff_seconds(1) and not first.parked
    deliver(created["id"])
    third = deliver(created["id"])
    assert third.parked and len(receiver.requests) == 3  # every attempt was a real POST
    parked = parties.client("a_admin").get(f"/api/v1/destinations/{created['id']}").json()
    assert parked["state"] == "parked" and parked["failures"] == 3
    assert "HTTP 500" in parked["last_error"] and parked["backlog_events"] == 2
    assert deliver(created["id"]).posts == 0 and len(receiver.requests) == 3  # parked: no POST
    receiver.default = 200
    patched = parties.client("a_admin").patch(
        f"/api/v1/destinations/{created['id']}", {"state": "active"}, format="json"
    )
    assert patched.status_code == 200 and patched.json()["failures"] == 0
    assert deliver(created["id"]).delivered == 2
    assert receiver.requests[-1].event_ids == ids
    assert state(created["id"]).state == State.ACTIVE


def test_a_retry_waits_for_its_backoff(parties, relaxed, receiver):
    relaxed.DESTINATIONS_RETRY_SECONDS = 60
    created = register(parties, receiver.url)
    ingest("tenant-a", 1)
    drain()
    receiver.statuses = [503]
    assert deliver(created["id"]).retry_in == 60
    waiting = deliver(created["id"])
    assert waiting.posts == 0 and 0 < waiting.retry_in <= 60 and len(receiver.requests) == 1
    after = state(created["id"])
    assert after.next_attempt_at > datetime.now(UTC) + timedelta(seconds=50)


def test_backoff_doubles_up_to_its_cap(settings):
    settings.DESTINATIONS_RETRY_SECONDS = 5
    settings.DESTINATIONS_RETRY_MAX_SECONDS = 30
    assert [backoff_seconds(n) for n in (1, 2, 3, 4, 5)] == [5, 10, 20, 30, 30]


def test_replay_from_a_point_in_time_delivers_those_events_again(parties, relaxed, receiver):
    created = register(parties, receiver.url)
    now = datetime.now(UTC)
    old = ingest("tenant-a", 2, at=now - timedelta(hours=3))
    recent = ingest("tenant-a", 2, at=now - timedelta(hours=1))
    drain()
    deliver(created["id"])
    assert receiver.event_ids() == old + recent
    answer = parties.client("a_admin").post(
        f"/api/v1/destinations/{created['id']}/replay",
        {"from": (now - timedelta(hours=2)).isoformat()},
        format="json",
    )
    assert answer.status_code == 202, answer.content
    assert answer.json()["queued_events"] == 2
    deliver(created["id"])
    assert receiver.event_ids() == old + recent + sorted(recent)  # replay: oldest first, by id
    assert signing.verify(
        created["secret"],
        receiver.requests[-1].headers,
        receiver.requests[-1].body,
        now=time.time(),
    )


def test_a_pipeline_batch_handed_twice_is_delivered_once(parties, relaxed, receiver):
    created = register(parties, receiver.url)
    ids = ingest("tenant-a", 3)
    with transaction.atomic():
        pending = batches.pending(Snapshot.nothing(), batches.current_snapshot(), 10)
        queueing.enqueue_batches(pending)
    with transaction.atomic():  # a redrive, or a drain whose watermark write was lost
        queueing.enqueue_batches(pending)
    drain()  # and the consumer proper, which sees the same batch again
    with as_tenant("tenant-a"):
        assert QueueItem.objects.filter(destination_id=created["id"]).count() == 1
    deliver(created["id"])
    deliver(created["id"])
    assert receiver.event_ids() == ids


def test_delivery_rechecks_the_address_and_refuses_a_private_one(parties, relaxed, receiver):
    created = register(parties, receiver.url)  # allowed when registered (local stack)
    ingest("tenant-a", 1)
    drain()
    relaxed.DESTINATIONS_ALLOW_PRIVATE = False  # now production's guard
    outcome = deliver(created["id"])
    assert outcome.posts == 0 and receiver.requests == []
    assert "url refused" in state(created["id"]).last_error
    assert "127.0.0.1" in state(created["id"]).last_error


def test_events_committed_before_registration_are_only_sent_by_a_replay(parties, relaxed, receiver):
    before = ingest("tenant-a", 2)
    drain()  # the consumer passes them: no destination yet
    created = register(parties, receiver.url)
    after = ingest("tenant-a", 1)
    drain()
    deliver(created["id"])
    assert receiver.event_ids() == after
    assert set(before).isdisjoint(receiver.event_ids())
