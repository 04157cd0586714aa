"""Writes on jobs and steps: create, claim, heartbeat, progress, finish.

The claim is a conditional UPDATE: a step is taken only when it is queued, failed
(a redelivered or redriven message), or running with a heartbeat older than
JOBS_STALE_SECONDS (its worker died). Every later write of the worker is
fenced by `claimed_by`: if another worker took the step over, the write
matches no row, `StepLost` is raised and the worker's transaction (with the
work it counted) rolls back.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable
from datetime import date, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Case, Count, F, Q, Sum, Value, When
from django.utils import timezone

from . import selectors
from .choices import JobKind, JobState, StepPhase
from .models import Job, JobStep


class StepLost(Exception):
    """Another worker claimed this step (ours looked dead): stop without writing."""


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@transaction.atomic
def job_create(
    *,
    kind: JobKind,
    tenant_id: str,
    params: dict,
    days: Iterable[date],
    total: int,
    dedupe_key: str | None = None,
) -> tuple[Job, bool]:
    """A job with one queued step per day; (job, created). With a `dedupe_key` the
    existing job of that key is returned instead of a second one."""
    if dedupe_key is not None:
        existing = selectors.job_by_dedupe_key(dedupe_key)
        if existing is not None:
            return existing, False
    job = Job.objects.create(
        kind=kind, tenant_id=tenant_id, params=params, total=total, dedupe_key=dedupe_key
    )
    steps = JobStep.objects.bulk_create(
        [JobStep(job=job, tenant_id=tenant_id, day=d) for d in days]
    )
    if not steps:
        _finish_job(job.pk)
        job.refresh_from_db()
    return job, True


def step_claim(step_id: int) -> JobStep | None:
    """Take the step for this worker, or None when it is done or alive elsewhere."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.JOBS_STALE_SECONDS)
    with transaction.atomic():
        taken = (
            JobStep.objects.filter(pk=step_id)
            .filter(
                Q(state__in=[JobState.QUEUED, JobState.FAILED])
                | Q(state=JobState.RUNNING, heartbeat_at__lt=stale)
            )
            .update(
                state=JobState.RUNNING,
                claimed_by=worker_name(),
                claimed_at=now,
                heartbeat_at=now,
                # Counted per message: a step that gave up is only received
                # again when an operator redrives its message, which starts anew.
                attempts=Case(
                    When(attempts__gte=settings.SQS_MAX_RECEIVE_COUNT, then=Value(1)),
                    default=F("attempts") + 1,
                ),
            )
        )
        if not taken:
            return None
        step = JobStep.objects.select_related("job").get(pk=step_id)
        job = Job.objects.filter(pk=step.job_id)
        job.filter(state=JobState.QUEUED).update(state=JobState.RUNNING)
        if step.attempts == 1 and step.job.state == JobState.FAILED:  # redriven
            job.filter(state=JobState.FAILED).update(
                state=JobState.RUNNING, error=None, finished_at=None
            )
    return step


def step_touch(step: JobStep, **changes) -> None:
    """Heartbeat (and record `changes`) in the caller's transaction; fenced by the claim."""
    changes["heartbeat_at"] = timezone.now()
    if not _mine(step).update(**changes):
        raise StepLost(f"step {step.pk} was taken over by another worker")


def step_count_deleted(step: JobStep, deleted: int) -> None:
    """Count `deleted` events on the step and its job, in the deleting transaction."""
    step_touch(step, deleted=F("deleted") + deleted)
    Job.objects.filter(pk=step.job_id).update(done=F("done") + deleted)


@transaction.atomic
def step_succeed(step: JobStep) -> None:
    """Mark the step done; the job succeeds with its last step (under the job's lock,
    so two steps finishing at once cannot both miss it)."""
    _lock_job(step.job_id)
    now = timezone.now()
    step_touch(step, state=JobState.SUCCEEDED, phase=StepPhase.DONE, finished_at=now, error=None)
    if not JobStep.objects.filter(job_id=step.job_id).exclude(state=JobState.SUCCEEDED).exists():
        _finish_job(step.job_id)


@transaction.atomic
def step_fail(step: JobStep, error: str, *, final: bool) -> None:
    """Record the error. `final` (the message's last receive before the dead-letter
    queue) fails the job; until then the job runs on, its error saying what is retried."""
    _lock_job(step.job_id)
    if not _mine(step).update(state=JobState.FAILED, error=error, heartbeat_at=timezone.now()):
        return  # another worker has it now: its outcome counts, not ours
    where = f"{step.day.isoformat()}: {error}"
    job = Job.objects.filter(pk=step.job_id)
    if final:
        job.update(
            state=JobState.FAILED,
            error=where + " (gave up: the message is in the dead-letter queue, "
            "see docs/operations.md)",
            finished_at=timezone.now(),
        )
    else:
        job.exclude(state=JobState.FAILED).update(error=where + " (will be retried)")


def steps_to_resend(*, older_than_seconds: int) -> list[int]:
    """Unfinished steps nobody works on: queued and never claimed for that long (the
    message was lost), or running with a stale heartbeat (the worker died)."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    return list(
        JobStep.objects.filter(
            Q(state=JobState.QUEUED, job__created_at__lt=cutoff)
            | Q(state=JobState.RUNNING, heartbeat_at__lt=cutoff)
        ).values_list("pk", flat=True)
    )


def _mine(step: JobStep):
    return JobStep.objects.filter(pk=step.pk, claimed_by=step.claimed_by, state=JobState.RUNNING)


def _lock_job(job_id) -> None:
    list(Job.objects.select_for_update().filter(pk=job_id).values_list("pk"))


def _finish_job(job_id) -> None:
    totals = JobStep.objects.filter(job_id=job_id).aggregate(
        days=Count("pk"), archived=Sum("archived"), deleted=Sum("deleted")
    )
    Job.objects.filter(pk=job_id).update(
        state=JobState.SUCCEEDED,
        error=None,
        finished_at=timezone.now(),
        result={
            "days": totals["days"],
            "archived": totals["archived"] or 0,
            "deleted": totals["deleted"] or 0,
        },
    )
