"""Delivering a destination's queue: in order, in signed batches, with backoff.

One worker at a time per destination (a PostgreSQL advisory lock, released
if the worker dies with its connection). Each round takes the items above the
cursor (up to DESTINATIONS_BATCH_EVENTS events), reads their events as the
API shows them (decrypted: the tenant's own system is an authorised reader),
POSTs `{"events": [...]}` signed, and on a 2xx moves the cursor past them.
A failure counts against the destination: the next attempt waits
DESTINATIONS_RETRY_SECONDS * 2^(failures-1) (capped), and after
DESTINATIONS_MAX_ATTEMPTS failures in a row the destination is parked until
an admin un-parks it (PATCH state=active, or a replay).

Delivery is at least once: a POST whose answer was lost is sent again, and
a replay sends events again on purpose. Every event carries its `id`, the
receiver's idempotency key. A pipeline batch handed twice is never queued
twice (queueing.py), so the stream itself holds each event once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone
from rest_framework.utils.encoders import JSONEncoder

from encryption.rows import open_rows
from logs.fields import EVENT_FIELDS
from logs.models import Event
from logs.wire import event_json
from tenants.scoping import activate

from . import signing
from .choices import State
from .models import Destination, QueueItem
from .secret_box import SecretUnavailable, open_secret
from .transport import TRANSPORTS, DeliveryFailed


@dataclass
class Outcome:
    delivered: int = 0  # events
    posts: int = 0
    busy: bool = False  # another worker holds this destination
    retry_in: float | None = None  # failed: try again after this many seconds
    parked: bool = False
    more: bool = False  # stopped at the time budget with items left


def backoff_seconds(failures: int) -> float:
    delay = settings.DESTINATIONS_RETRY_SECONDS * 2 ** max(0, min(failures - 1, 20))
    return float(min(settings.DESTINATIONS_RETRY_MAX_SECONDS, delay))


@contextmanager
def _exclusive(destination_id: UUID | str) -> Iterator[bool]:
    key = f"destinations.deliver:{destination_id}"
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", [key])
        got = cursor.fetchone()[0]
    try:
        yield got
    finally:
        if got:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [key])


@contextmanager
def _as_tenant(tenant_id: str) -> Iterator[None]:
    """A transaction in the tenant (the destinations tables are under row-level
    security). Never held across a POST: each step commits before the next."""
    with transaction.atomic():
        activate(tenant_id)
        yield


def deliver(
    destination_id: UUID | str, tenant_id: str, *, budget_seconds: float | None = None
) -> Outcome:
    """Deliver what is due, in order, until the queue is empty, a failure, or the budget."""
    budget = settings.DESTINATIONS_DELIVER_SECONDS if budget_seconds is None else budget_seconds
    deadline = time.monotonic() + budget
    outcome = Outcome()
    with _exclusive(destination_id) as got:
        if not got:
            outcome.busy = True
            return outcome
        while True:
            with _as_tenant(tenant_id):
                destination = Destination.objects.filter(pk=destination_id).first()
                if destination is None or not _due(destination, outcome):
                    return outcome
                items = _next_items(destination)
            if not items:
                return outcome
            if not _deliver_items(destination, items, outcome):
                return outcome
            if time.monotonic() > deadline:
                outcome.more = True
                return outcome


def _due(destination: Destination, outcome: Outcome) -> bool:
    if destination.state == State.PARKED:
        outcome.parked = True
        return False
    wait_until = destination.next_attempt_at
    if wait_until is not None and wait_until > timezone.now():
        outcome.retry_in = (wait_until - timezone.now()).total_seconds()
        return False
    return True


def _next_items(destination: Destination) -> list[QueueItem]:
    """Items above the cursor, in order, up to about DESTINATIONS_BATCH_EVENTS events."""
    limit = settings.DESTINATIONS_BATCH_EVENTS
    chosen: list[QueueItem] = []
    count = 0
    pending = QueueItem.objects.filter(destination=destination, seq__gt=destination.cursor)
    for item in pending.order_by("seq")[: max(1, limit)]:
        if chosen and count + len(item.event_ids) > limit:
            break
        chosen.append(item)
        count += len(item.event_ids)
    return chosen


def _deliver_items(destination: Destination, items: list[QueueItem], outcome: Outcome) -> bool:
    """Send one batch; True when it went (or held no event any more)."""
    events = batch_events(destination.tenant_id, items)
    try:
        if events:
            secret = open_secret(destination.tenant_id, str(destination.pk), destination.secret)
            body = encode_body(events)
            headers = signing.signed_headers(secret, body)
            TRANSPORTS[destination.kind].send(destination.url, body, headers)
    except (DeliveryFailed, SecretUnavailable) as failure:
        failed = _record_failure(destination, str(failure))
        outcome.parked = failed.state == State.PARKED
        outcome.retry_in = None if outcome.parked else backoff_seconds(failed.failures)
        return False
    _record_success(destination, items[-1].seq, len(events))
    outcome.delivered += len(events)
    outcome.posts += 1 if events else 0
    return True


def batch_events(tenant_id: str, items: list[QueueItem]) -> list[dict]:
    """The items' events as the API shows them, in item order, each once.
    Events deleted since they were queued (retention) are left out."""
    ids = list(dict.fromkeys(i for item in items for i in item.event_ids))
    low = min(item.first_timestamp for item in items)
    high = max(item.last_timestamp for item in items)
    with _as_tenant(tenant_id):
        found = {
            row["id"]: row
            for row in Event.objects.filter(
                tenant_id=tenant_id, id__in=ids, timestamp__gte=low, timestamp__lte=high
            ).values(*EVENT_FIELDS)
        }
        rows = [found[i] for i in ids if i in found]
        open_rows(rows)
    return [event_json(row) for row in rows]


def encode_body(events: list[dict]) -> bytes:
    return json.dumps(
        {"events": events}, cls=JSONEncoder, separators=(",", ":"), ensure_ascii=False
    ).encode()


def _record_success(destination: Destination, seq: int, events: int) -> None:
    now = timezone.now()
    with _as_tenant(destination.tenant_id):
        Destination.objects.filter(pk=destination.pk).update(
            cursor=Greatest(F("cursor"), seq),
            failures=0,
            next_attempt_at=None,
            last_error="",
            last_attempt_at=now,
            last_success_at=now,
            delivered_events=F("delivered_events") + events,
        )


def _record_failure(failed: Destination, reason: str) -> Destination:
    now = timezone.now()
    with _as_tenant(failed.tenant_id):
        destination = Destination.objects.select_for_update().get(pk=failed.pk)
        destination.failures += 1
        destination.last_error = reason[:500]
        destination.last_attempt_at = now
        if destination.failures >= settings.DESTINATIONS_MAX_ATTEMPTS:
            destination.state = State.PARKED
            destination.parked_reason = f"{destination.failures} failed attempts in a row"
            destination.next_attempt_at = None
        else:
            wait = backoff_seconds(destination.failures)
            destination.next_attempt_at = now + timedelta(seconds=wait)
        destination.save()
    return destination
