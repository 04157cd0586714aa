"""Writes of the pipeline: draining pending batches into each consumer.

`drain(consumer)` runs in one transaction: it locks the consumer's state row
(drains of one consumer take turns, so batches reach it in commit order),
takes a fresh snapshot, hands the batches committed since its watermark to
the consumer, and stores the new watermark with the consumer's own writes.
A worker killed half-way rolls all of it back: the batches stay pending and
the next drain (a redelivered message, a later announcement or the sweep)
hands them again. Duplicate or late messages find nothing new to do.

A batch the consumer fails on is retried by later drains (the watermark
stops just before it); after PIPELINE_MAX_ATTEMPTS failures it is dead:
recorded, sent to the dead-letter queue, and passed, so one poison batch
never stops a consumer. `pipeline_redrive` hands dead batches again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from auditlog_project.aws import sqs_client
from auditlog_project.queues import dead_letter_name

from . import batches
from .consumers import Consumer, PendingBatch
from .models import BatchFailure, ConsumerState
from .watermark import Snapshot

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DrainResult:
    consumer: str
    batches: int = 0
    events: int = 0
    more: bool = False  # stopped at the batch limit: drain again
    failed: bool = False  # stopped at a failing batch: retry later
    dead: int = 0


def drain(consumer: Consumer, *, max_batches: int | None = None) -> DrainResult:
    """Hand `consumer` the batches committed since its watermark (up to a limit)."""
    limit = max_batches or settings.PIPELINE_DRAIN_BATCHES
    with transaction.atomic():
        state = _locked_state(consumer.name)
        prev = Snapshot.parse(state.watermark)
        now = batches.current_snapshot()  # after the lock: sees what the last drain saw
        found = batches.pending(prev, now, limit + 1)
        chosen, cutoff = _cut(found, limit, prev, now)
        chosen, cutoff = _cap_events(chosen, cutoff, settings.PIPELINE_DRAIN_EVENTS)
        handled, failed, dead = _handle(consumer, chosen)
        if failed is not None:
            cutoff = failed.xid
        state.watermark = str(now.below(cutoff))
        state.batches_done = F("batches_done") + len(handled)
        state.events_done = F("events_done") + sum(batch.events for batch in handled)
        state.batches_dead = F("batches_dead") + dead
        state.save()
    return DrainResult(
        consumer=consumer.name,
        batches=len(handled),
        events=sum(batch.events for batch in handled),
        more=(len(found) > limit or cutoff < now.xmax) and failed is None,
        failed=failed is not None,
        dead=dead,
    )


def _locked_state(name: str) -> ConsumerState:
    ConsumerState.objects.get_or_create(name=name, defaults={"watermark": str(Snapshot.nothing())})
    return ConsumerState.objects.select_for_update().get(name=name)


def _cut(found: list[PendingBatch], limit: int, prev: Snapshot, now: Snapshot) -> tuple:
    """(the batches to handle now, the xid below which every pending batch is among them).

    The batches of one transaction are never split: the cut falls between xids.
    """
    if len(found) <= limit:
        return found, now.xmax
    cutoff = found[limit].xid
    chosen = [batch for batch in found if batch.xid < cutoff]
    if not chosen:  # one transaction wrote more batches than the limit: take it whole
        everything = batches.pending(prev, now.below(cutoff + 1), limit=2**31 - 1)
        chosen = [batch for batch in everything if batch.xid == cutoff]
        cutoff += 1
    return chosen, cutoff


def _cap_events(chosen: list[PendingBatch], cutoff: int, cap: int) -> tuple[list, int]:
    """At most about `cap` events per drain (whole transactions; at least one)."""
    total = 0
    for i, batch in enumerate(chosen):
        total += batch.events
        if total > cap and i > 0 and batch.xid != chosen[i - 1].xid:
            return chosen[:i], batch.xid
    return chosen, cutoff


def _handle(
    consumer: Consumer, chosen: list[PendingBatch]
) -> tuple[list[PendingBatch], PendingBatch | None, int]:
    """(handled batches, the batch it stopped at or None, batches declared dead)."""
    if not chosen:
        return [], None, 0
    loaded = batches.with_rows(chosen) if consumer.wants_rows else chosen
    if _attempt(consumer, loaded) is None:
        return loaded, None, 0
    handled: list[PendingBatch] = []
    dead = 0
    for batch in loaded:  # find the poison: one batch at a time
        error = _attempt(consumer, [batch])
        if error is not None:
            if not _record_failure(consumer, batch, error):
                return handled, batch, dead
            dead += 1
        handled.append(batch)
    return handled, None, dead


def _attempt(consumer: Consumer, group: Sequence[PendingBatch]) -> str | None:
    """Run the handler in a savepoint; the error's text, or None when it succeeded."""
    try:
        with transaction.atomic():
            consumer.handle(group)
    except Exception as exc:  # noqa: BLE001 - any failure is the batch's failure
        logger.warning("pipeline consumer %s failed on %d batch(es)", consumer.name, len(group))
        return f"{type(exc).__name__}: {exc}"[:1000]
    return None


def _record_failure(consumer: Consumer, batch: PendingBatch, error: str) -> bool:
    """Count a failure; True when the batch is now dead (sent to the dead-letter queue)."""
    failure, _ = BatchFailure.objects.get_or_create(
        consumer=consumer.name, batch_id=batch.id, defaults={"tenant_id": batch.tenant_id}
    )
    failure.attempts += 1
    failure.last_error = error
    dead = failure.attempts >= settings.PIPELINE_MAX_ATTEMPTS
    if dead:
        failure.dead_at = timezone.now()
        transaction.on_commit(lambda: _send_to_dead_letter_queue(consumer.name, batch, error))
        logger.error(
            "pipeline batch %s dead for consumer %s after %d attempts",
            batch.id,
            consumer.name,
            failure.attempts,
        )
    failure.save()
    return dead


def _send_to_dead_letter_queue(consumer: str, batch: PendingBatch, error: str) -> None:
    """A record of the dead batch on the dead-letter queue, where operators look."""
    body = {
        "type": "pipeline.dead_batch",
        "consumer": consumer,
        "batch_id": batch.id,
        "tenant_id": batch.tenant_id,
        "kind": batch.kind,
        "events": batch.events,
        "error": error,
    }
    try:
        client = sqs_client()
        url = client.get_queue_url(QueueName=dead_letter_name(settings.SQS_DEFAULT_QUEUE))
        client.send_message(QueueUrl=url["QueueUrl"], MessageBody=json.dumps(body))
    except Exception:  # noqa: BLE001 - the table keeps the record; the queue is a signal
        logger.exception("could not send dead batch %s to the dead-letter queue", batch.id)


def redrive(consumer: Consumer, batch_ids: Sequence[int]) -> int:
    """Hand dead batches to the consumer again; the number it took this time."""
    done = 0
    with transaction.atomic():
        for batch in batches.by_ids(batch_ids):
            loaded = batches.with_rows([batch]) if consumer.wants_rows else [batch]
            if _attempt(consumer, loaded) is None:
                BatchFailure.objects.filter(consumer=consumer.name, batch_id=batch.id).update(
                    redriven_at=timezone.now()
                )
                done += 1
    return done
