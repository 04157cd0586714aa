"""One step of a retention job: one tenant's UTC day, archived, verified, deleted.

Resumable by construction (the step's `phase` moves forward only once what it
stands for is durable):

- ARCHIVE: with the tenant's archive policy on, `archive_tenant_day` uploads
  the day, reads it back and verifies it (idempotent: a verified day is
  returned as it is). The step then checks that the database still holds
  exactly the archived number of the day's events, and records the phase
  DELETE, the count and the time in one write. A crash before that write
  redoes the (idempotent) archive; nothing was deleted yet.
- DELETE: chunks of at most RETENTION_DELETE_CHUNK events, each counted in its
  own transaction (jobs.services.step_count_deleted); a crash resumes with
  what is left. Then the hooks (hooks.py), then the step is done.

Any write after the claim is fenced by it (jobs.services.StepLost).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, time, timedelta

from django.conf import settings
from django.utils import timezone

from jobs import services as jobs
from jobs.choices import StepPhase
from jobs.models import JobStep

from . import hooks
from .deletion import count_between, delete_range_in_chunks

logger = logging.getLogger(__name__)


class ArchiveMismatch(Exception):
    """The database holds other events for the day than its verified archive: nothing
    is deleted (events arrived after archiving, e.g. after retention was raised)."""


def step_run(step_id: int) -> str:
    """Do (or finish) the step; what happened: done, skipped (done or alive elsewhere), lost."""
    step = jobs.step_claim(step_id)
    if step is None:
        return "skipped"
    try:
        if step.phase == StepPhase.ARCHIVE:
            _archive(step)
        _delete(step)
        jobs.step_succeed(step)
    except jobs.StepLost:
        logger.warning("step %s taken over by another worker; stopping", step_id)
        return "lost"
    except Exception as exc:
        jobs.step_fail(step, f"{type(exc).__name__}: {exc}"[:2000], final=_last_try(step))
        raise
    return "done"


def _bounds(step: JobStep) -> tuple[datetime, datetime]:
    start = datetime.combine(step.day, time.min, tzinfo=UTC)
    return start, start + timedelta(days=1)


def _archive(step: JobStep) -> None:
    start, end = _bounds(step)
    if not step.job.params.get("archive", True):
        jobs.step_touch(step, phase=StepPhase.DELETE)
        step.phase = StepPhase.DELETE
        return
    from archival.archive import archive_tenant_day

    record = archive_tenant_day(step.tenant_id, step.day)
    in_database = count_between(step.tenant_id, start, end)
    if in_database != record.row_count:
        raise ArchiveMismatch(
            f"{in_database} events in the database for {step.day}, {record.row_count} in its "
            "verified archive; nothing deleted (re-archive the day: docs/operations.md)"
        )
    jobs.step_touch(
        step,
        phase=StepPhase.DELETE,
        archived=record.row_count,
        verified_at=timezone.now(),
        archive={"manifest_key": record.manifest_key, "rows": record.row_count},
    )
    step.phase = StepPhase.DELETE


def _delete(step: JobStep) -> None:
    start, end = _bounds(step)
    delete_range_in_chunks(
        step.tenant_id, start, end, counted=lambda n: jobs.step_count_deleted(step, n)
    )
    hooks.day_deleted(step.tenant_id, start, end)


def _last_try(step: JobStep) -> bool:
    """SQS moves the message to the dead-letter queue after this many receives."""
    return step.attempts >= settings.SQS_MAX_RECEIVE_COUNT
