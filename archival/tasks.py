"""Background tasks of the archival app: retention and cleanup on SQS.

Tasks are thin: the work is in archival/retention/. Every message may arrive
twice or after its worker died; the steps are claimed and resumable, so that
is harmless. A step that raises is not acknowledged: its message comes back
after JOBS_RETRY_BACKOFF_SECONDS times its receive count, and SQS moves it to
the dead-letter queue after SQS_MAX_RECEIVE_COUNT receives
(docs/operations.md: inspect and redrive).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from celery import shared_task
from django.conf import settings
from django.core.cache import cache

from jobs import services as jobs
from jobs.choices import JobKind
from logs import audit
from tenants.models import Tenant

from .retention import dropping, planning, steps

logger = logging.getLogger(__name__)

RETRIED = {
    "acks_late": True,
    "acks_on_failure_or_timeout": False,  # a failure leaves the message to SQS
    "Request": "auditlog_project.queues:RedeliverLater",
}


@shared_task(name="archival.smoke")
def smoke(token: str) -> str:
    """Prove the queue path end to end: record that a worker ran this token."""
    cache.set(f"smoke:{token}", "done", timeout=300)
    return token


@shared_task(name="archival.retention_step", **RETRIED)
def retention_step(step_id: int) -> str:
    """One tenant and day: archive (per policy), verify, delete."""
    return steps.step_run(step_id)


@shared_task(name="archival.retention_daily")
def retention_daily() -> int:
    """Beat, daily: one retention job per tenant (deactivated ones too: offboarding
    relies on retention); the number of jobs created."""
    created = 0
    for tenant in Tenant.objects.order_by("id"):
        before = planning.effective_before(tenant, None)
        _, _, made = planning.job_start(
            tenant=tenant,
            before=before,
            kind=JobKind.RETENTION,
            requested_by="system",
            origin=audit.TASK,
            dedupe_key=f"retention:{tenant.id}:{before.date().isoformat()}",
        )
        created += made
    return created


@shared_task(name="archival.partitions_drop_expired")
def partitions_drop_expired() -> int:
    """Beat, daily after retention: drop the daily partitions whose every row is past
    its tenant's retention and archived (or that are empty); the number dropped."""
    return len(dropping.partitions_drop_expired().dropped)


@shared_task(name="archival.jobs_resume")
def jobs_resume() -> int:
    """Beat, every 5 minutes: re-send steps nobody works on (lost message, dead worker)."""
    stale = jobs.steps_to_resend(older_than_seconds=settings.JOBS_STALE_SECONDS)
    send_steps(stale)
    return len(stale)


def send_steps(step_ids: Iterable[int]) -> None:
    """One SQS message per step."""
    for step_id in step_ids:
        retention_step.delay(step_id)
