"""Delivery tasks (Celery on SQS): thin calls into delivery.py."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.db import transaction

from tenants.models import Tenant
from tenants.scoping import activate

from . import delivery, selectors

MAX_COUNTDOWN = 900  # SQS delays a message at most 15 minutes; the sweep covers longer


@shared_task(name="destinations.deliver")
def deliver(destination_id: str, tenant_id: str) -> dict:
    """Deliver one destination's due batches; re-queue itself for a retry or the rest."""
    outcome = delivery.deliver(destination_id, tenant_id)
    again = [destination_id, tenant_id]
    if outcome.more:
        deliver.apply_async(args=again)
    elif outcome.retry_in is not None and not outcome.busy:
        deliver.apply_async(args=again, countdown=min(MAX_COUNTDOWN, outcome.retry_in))
    return {"delivered": outcome.delivered, "parked": outcome.parked}


@shared_task(name="destinations.sweep")
def sweep() -> dict:
    """Scheduled by beat: queue a delivery for every due destination (lost messages,
    long retries), and prune delivered queue items past DESTINATIONS_KEEP_HOURS.
    Tenant by tenant: the destinations tables are under row-level security."""
    due: list[tuple[str, str]] = []
    pruned = 0
    for tenant_id in Tenant.objects.order_by("id").values_list("id", flat=True):
        with transaction.atomic():
            activate(tenant_id)
            found = selectors.due_destinations(tenant_id).values_list("pk", flat=True)
            due.extend((str(pk), tenant_id) for pk in found)
            count, _ = selectors.prunable_items(
                tenant_id, settings.DESTINATIONS_KEEP_HOURS
            ).delete()
            pruned += count
    for destination_id, tenant_id in due:
        deliver.apply_async(args=[destination_id, tenant_id])
    return {"due": len(due), "pruned": pruned}
