"""Pipeline tasks (Celery on SQS): thin calls into pipeline/drain.py."""

from __future__ import annotations

import logging
import time

from celery import shared_task
from django.conf import settings

from . import drain as draining
from . import maintenance
from .consumers import registered

logger = logging.getLogger(__name__)


def _drain_all() -> tuple[dict[str, int], bool, bool]:
    """Drain every consumer: ({consumer: events handled}, more left, a batch failed)."""
    deadline = time.monotonic() + settings.PIPELINE_DRAIN_SECONDS
    totals: dict[str, int] = {}
    more = failed = False
    for consumer in registered():
        while True:
            result = draining.drain(consumer)
            totals[consumer.name] = totals.get(consumer.name, 0) + result.events
            failed |= result.failed
            if not result.more:
                break
            if time.monotonic() > deadline:
                more = True
                break
    return totals, more, failed


@shared_task(name="pipeline.drain", bind=True, max_retries=None)
def drain(self, tenant_id: str | None = None, kind: str = "", events: int = 0) -> dict:
    """Bring every consumer up to date (an announcement, a retry or the sweep).

    The arguments name the batch that was announced, for the log only: the
    work list is each consumer's watermark, so any message does the same
    complete job, and a duplicate finds nothing left. A consumer with more
    than one run's worth is drained again by a new message; a failing batch
    is retried with backoff (bounded by PIPELINE_MAX_ATTEMPTS per batch).
    """
    totals, more, failed = _drain_all()
    if failed:
        backoff = min(300, settings.PIPELINE_RETRY_SECONDS * 2 ** min(self.request.retries, 8))
        raise self.retry(countdown=backoff, kwargs={})
    if more:
        drain.apply_async()
    return totals


@shared_task(name="pipeline.sweep")
def sweep() -> dict:
    """Scheduled by beat: drain (catching up lost messages) and prune handled batches.

    A failing batch is left to the next sweep (or a retry already queued).
    """
    totals, more, _ = _drain_all()
    if more:
        drain.apply_async()
    pruned = maintenance.prune_batches(settings.PIPELINE_BATCH_RETENTION_HOURS)
    return {"events": totals, "pruned": pruned}
