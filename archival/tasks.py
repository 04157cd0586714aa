"""Background tasks of the archival app (retention, archive, backup)."""

from celery import shared_task
from django.core.cache import cache


@shared_task(name="archival.smoke")
def smoke(token: str) -> str:
    """Prove the queue path end to end: record that a worker ran this token."""
    cache.set(f"smoke:{token}", "done", timeout=300)
    return token
