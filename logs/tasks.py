"""Background tasks of the logs app (Celery on SQS): thin calls into services."""

from celery import shared_task
from django.conf import settings

from . import services


@shared_task(name="logs.partitions_create_ahead")
def partitions_create_ahead() -> int:
    """Scheduled by beat: keep daily partitions ready ahead of time (idempotent)."""
    return services.partitions_create_ahead(days=settings.EVENTS_PARTITIONS_AHEAD)
