"""Delivery tasks (Celery on SQS): thin calls into delivery.py."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from . import delivery, selectors

MAX_COUNTDOWN = 900  # SQS delays a message at most 15 minutes; the sweep covers longer


@shared_task(name="destinations.deliver")
def deliver(destination_id: str) -> dict:
    """Deliver one destination's due batches; re-queue itself for a retry or the rest."""
    outcome = delivery.deliver(destination_id)
    if outcome.more:
        deliver.apply_async(args=[destination_id])
    elif outcome.retry_in is not None and not outcome.busy:
        deliver.apply_async(args=[destination_id], countdown=min(MAX_COUNTDOWN, outcome.retry_in))
    return {"delivered": outcome.delivered, "parked": outcome.parked}


@shared_task(name="destinations.sweep")
def sweep() -> dict:
    """Scheduled by beat: queue a delivery for every due destination (lost messages,
    long retries), and prune delivered queue items past DESTINATIONS_KEEP_HOURS."""
    due = [str(pk) for pk in selectors.due_destinations().values_list("pk", flat=True)]
    for destination_id in due:
        deliver.apply_async(args=[destination_id])
    pruned, _ = selectors.prunable_items(settings.DESTINATIONS_KEEP_HOURS).delete()
    return {"due": len(due), "pruned": pruned}
