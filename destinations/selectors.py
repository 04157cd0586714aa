"""Reads of destinations: the API's view of one, and what the sweep finds due."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import F, Q, QuerySet
from django.utils import timezone

from .choices import State
from .models import Destination, QueueItem


def backlog_events(destination: Destination) -> int:
    """Events queued above the cursor (replays included)."""
    items = QueueItem.objects.filter(destination=destination, seq__gt=destination.cursor)
    return sum(len(ids) for ids in items.values_list("event_ids", flat=True))


def oldest_pending_at(destination: Destination):
    item = (
        QueueItem.objects.filter(destination=destination, seq__gt=destination.cursor)
        .order_by("seq")
        .only("created_at")
        .first()
    )
    return item.created_at if item else None


def due_destinations(tenant_id: str) -> QuerySet[Destination]:
    """The tenant's active destinations with items above the cursor whose retry
    time has come (the tenant is activated)."""
    now = timezone.now()
    return Destination.objects.filter(
        tenant_id=tenant_id, state=State.ACTIVE, last_seq__gt=F("cursor")
    ).filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))


def prunable_items(tenant_id: str, keep_hours: int) -> QuerySet[QueueItem]:
    """The tenant's delivered items older than `keep_hours` (kept until then: a
    pipeline batch handed again meanwhile is recognised and not queued twice)."""
    cutoff = timezone.now() - timedelta(hours=keep_hours)
    return QueueItem.objects.filter(
        destination__tenant_id=tenant_id,
        seq__lte=F("destination__cursor"),
        created_at__lt=cutoff,
    )
