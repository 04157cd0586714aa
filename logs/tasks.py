"""Background tasks of the logs app (Celery on SQS): thin calls into services."""

from celery import shared_task
from django.conf import settings

from . import partitions, planner
from .stats import rollup_refresh


@shared_task(name="logs.partitions_create_ahead")
def partitions_create_ahead() -> int:
    """Scheduled by beat: daily partitions for every accepted day (idempotent).

    Takes no arguments: the window comes from the settings and the catalog, so
    a duplicate delivery creates nothing and a missed run is caught up by the next.
    """
    return partitions.partitions_create_ahead(
        ahead=settings.EVENTS_PARTITIONS_AHEAD, max_age_days=settings.EVENTS_MAX_AGE_DAYS
    )


@shared_task(name="logs.stats_rollup_refresh")
def stats_rollup_refresh() -> int:
    """Scheduled by beat: recompute the stats rollup's dirty hours (idempotent).

    Takes no arguments: the dirty marks in PostgreSQL are the work list, so a
    duplicate delivery finds nothing left, and a missed run is caught up by the next.
    """
    return rollup_refresh.rollup_drain(
        tenant_ids=rollup_refresh.dirty_tenants(),
        batch_hours=settings.STATS_ROLLUP_BATCH_HOURS,
        max_batches=settings.STATS_ROLLUP_MAX_BATCHES,
    )


@shared_task(name="logs.analyze_hot_partition")
def analyze_hot_partition() -> list[str]:
    """Scheduled by beat: fresh planner statistics for today's partition when it grew.

    Idempotent: a duplicate delivery finds too few rows changed and does nothing.
    """
    return planner.analyze_hot_partitions(min_rows=settings.EVENTS_ANALYZE_MIN_ROWS)
