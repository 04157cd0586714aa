"""Alerts tasks (Celery on SQS): thin calls into alerts/maintenance.py and alerts/delivery.py."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.db import transaction

from tenants.models import Tenant
from tenants.scoping import activate

from . import delivery, maintenance

MAX_COUNTDOWN = 900  # SQS delays a message at most 15 minutes; the sweep covers longer


@shared_task(name="alerts.prune_matches")
def prune_matches() -> int:
    """Scheduled by beat (daily): drop counted matches no evaluation can need."""
    return maintenance.prune_matches()


@shared_task(name="alerts.deliver")
def deliver(tenant_id: str) -> dict:
    """Send the tenant's due alert deliveries; queue itself for the rest or a retry."""
    outcome = delivery.deliver_due(tenant_id)
    if outcome.more:
        delivery.kick(tenant_id)
    elif outcome.retry_in is not None:
        delivery.kick(tenant_id, countdown=min(MAX_COUNTDOWN, outcome.retry_in))
    return {"delivered": outcome.delivered, "failed": outcome.failed}


@shared_task(name="alerts.deliver_sweep")
def deliver_sweep() -> dict:
    """Scheduled by beat: queue `alerts.deliver` for every tenant with a due
    delivery (a lost message, a retry past 15 minutes, an un-parked destination),
    and delete deliveries sent more than DESTINATIONS_KEEP_HOURS ago (failed
    ones stay). Tenant by tenant: the table is under row-level security."""
    tenants = []
    pruned = 0
    for tenant_id in Tenant.objects.order_by("id").values_list("id", flat=True):
        with transaction.atomic():
            activate(tenant_id)
            if delivery.due(tenant_id).exists():
                tenants.append(tenant_id)
            pruned += delivery.sent_before(tenant_id, settings.DESTINATIONS_KEEP_HOURS).delete()[0]
    for tenant_id in tenants:
        delivery.kick(tenant_id)
    return {"tenants": len(tenants), "pruned": pruned}
