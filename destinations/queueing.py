"""Writes of a destination's queue: pipeline batches (the consumer) and replays.

Every writer locks the destination row first and numbers its items from
`last_seq`, so items commit in `seq` order and the delivery, which reads
the items above its cursor, sees a gapless prefix: it can never pass an
item that commits later. (Numbering from a sequence instead would be the
classic trap: a replay committing seq 105 before a drain commits 103.)
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from uuid import UUID

from django.conf import settings
from django.db import transaction

from logs.models import Event
from pipeline.consumers import Consumer, PendingBatch
from tenants.scoping import activate

from .models import Destination, QueueItem

logger = logging.getLogger(__name__)


def _append(
    destination: Destination, chunks: Iterable[tuple[int | None, Sequence, Sequence]]
) -> int:
    """Add items (batch id, event ids, timestamps) after the destination's last; how many.

    The caller holds the destination's row lock (select_for_update).
    """
    items = []
    seq = destination.last_seq
    for batch_id, ids, timestamps in chunks:
        if not ids:
            continue
        seq += 1
        items.append(
            QueueItem(
                destination=destination,
                seq=seq,
                batch_id=batch_id,
                event_ids=list(ids),
                first_timestamp=min(timestamps),
                last_timestamp=max(timestamps),
            )
        )
    if items:
        QueueItem.objects.bulk_create(items)
        Destination.objects.filter(pk=destination.pk).update(last_seq=seq)
        destination.last_seq = seq
    return len(items)


def enqueue_batches(batches: Sequence[PendingBatch]) -> list[UUID]:
    """The consumer's work: queue each inserted batch for every destination of its
    tenant, once (a batch handed again is recognised by its id); the destinations
    that got something. Deletions (retention) are not forwarded."""
    by_tenant: dict[str, list[PendingBatch]] = defaultdict(list)
    for batch in batches:
        if batch.kind == "insert" and batch.ids:
            by_tenant[batch.tenant_id].append(batch)
    touched: list[Destination] = []
    for tenant_id in sorted(by_tenant):
        group = by_tenant[tenant_id]
        activate(tenant_id)  # the destinations tables are under row-level security
        destinations = Destination.objects.select_for_update().filter(tenant_id=tenant_id)
        for destination in destinations.order_by("id"):
            done = set(
                QueueItem.objects.filter(
                    destination=destination, batch_id__in=[batch.id for batch in group]
                ).values_list("batch_id", flat=True)
            )
            chunks = [(b.id, b.ids, b.timestamps) for b in group if b.id not in done]
            if _append(destination, chunks):
                touched.append(destination)
    activate("")
    if touched:
        transaction.on_commit(lambda: kick(touched))
    return [destination.pk for destination in touched]


def _handle(batches: Sequence[PendingBatch]) -> None:
    enqueue_batches(batches)


CONSUMER = Consumer(
    name="destinations",
    handle=_handle,
    wants_rows=False,  # the queue names events by id; delivery reads them when it sends
    description="Log streams: queues committed events for each destination of the tenant.",
)


def enqueue_replay(destination: Destination, since: datetime) -> int:
    """Queue again every stored event of the tenant dated from `since`, oldest first;
    the number of events. Runs in the caller's transaction, with the tenant active."""
    locked = Destination.objects.select_for_update().get(pk=destination.pk)
    size = settings.DESTINATIONS_BATCH_EVENTS
    rows = (
        Event.objects.filter(tenant_id=locked.tenant_id, timestamp__gte=since)
        .order_by("timestamp", "id")
        .values_list("id", "timestamp")
    )
    total = 0
    chunk: list[tuple[UUID, datetime]] = []
    for row in rows.iterator(chunk_size=5000):
        chunk.append(row)
        if len(chunk) == size:
            total += _append_chunk(locked, chunk)
            chunk = []
    total += _append_chunk(locked, chunk)
    destination.last_seq = locked.last_seq
    return total


def _append_chunk(destination: Destination, chunk: list[tuple[UUID, datetime]]) -> int:
    if not chunk:
        return 0
    _append(destination, [(None, [i for i, _ in chunk], [t for _, t in chunk])])
    return len(chunk)


def kick(destinations: Iterable[Destination]) -> None:
    """Ask a worker to deliver (after COMMIT); a lost message is the sweep's to catch."""
    from .tasks import deliver

    for destination in destinations:
        try:
            deliver.apply_async(args=[str(destination.pk), destination.tenant_id], retry=False)
        except Exception:  # noqa: BLE001 - the sweep (DESTINATIONS_SWEEP_SECONDS) catches up
            logger.warning("could not queue a delivery of destination %s", destination.pk)
