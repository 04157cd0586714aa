"""Background work of the backups app: the scheduled backup (beat, through SQS)."""

from celery import shared_task

from . import services


@shared_task(name="backups.scheduled_backup")
def scheduled_backup() -> dict:
    """The period's backup if it has none yet, then retention (idempotent)."""
    return services.scheduled_backup_run()
