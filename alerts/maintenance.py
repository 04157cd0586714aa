"""Pruning the matches rules counted, once no evaluation can need them again.

A match is read (a) to count a threshold window of a newer event, at most
MAX_WINDOW_SECONDS back from it, and (b) as the idempotency key when a batch
is handed again, which can happen until the pipeline prunes the batch
(PIPELINE_BATCH_RETENTION_HOURS after it was written). An event is never
older than EVENTS_MAX_AGE_DAYS when it is written, so a match dated before
now - EVENTS_MAX_AGE_DAYS - max(window, batch retention) is needed by neither.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from tenants.models import Tenant
from tenants.scoping import activate

from .api.serializers import MAX_WINDOW_SECONDS
from .models import AlertRule, RuleMatch


def matches_cutoff(now: datetime | None = None) -> datetime:
    keep = max(
        timedelta(seconds=MAX_WINDOW_SECONDS),
        timedelta(hours=settings.PIPELINE_BATCH_RETENTION_HOURS),
    )
    return (now or timezone.now()) - timedelta(days=settings.EVENTS_MAX_AGE_DAYS) - keep


def prune_matches(now: datetime | None = None) -> int:
    """Delete every tenant's matches older than the cutoff; how many.

    The table is under row-level security: tenant by tenant, those with rules.
    """
    cutoff = matches_cutoff(now)
    deleted = 0
    for tenant_id in Tenant.objects.values_list("id", flat=True):
        with transaction.atomic():
            activate(tenant_id)
            if not AlertRule.objects.filter(tenant_id=tenant_id).exists():
                continue
            count, _ = RuleMatch.objects.filter(tenant_id=tenant_id, timestamp__lt=cutoff).delete()
            deleted += count
    return deleted
