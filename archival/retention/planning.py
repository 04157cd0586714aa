"""The cutoff, the dry run, and starting a cleanup or retention job.

Retention works on whole UTC days: the archive holds one object set per tenant
and day, and a day is archived, verified and deleted as a whole. So `before` is
rounded down to the start of its UTC day, and the answer names the instant used.
The default is now minus the tenant's `retention_days`, rounded down the same
way: an event is kept at least its tenant's retention and less than a day longer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.db import connection, transaction
from django.utils import timezone

from auditlog_project.errors import Invalid, Message
from jobs import selectors as job_selectors
from jobs import services as jobs
from jobs.choices import JobKind
from jobs.models import Job
from logs import audit
from tenants.models import Tenant
from tenants.scoping import activate

from .deletion import count_between

CLEANUP = "CLEANUP"  # the admin event's action (the access action of a dry run, too)


@dataclass(frozen=True)
class Preview:
    """What a cleanup up to `before` would do (the dry run's answer)."""

    before: datetime
    to_archive: int
    to_delete: int


def day_start(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    return datetime.combine(moment.date(), time.min, tzinfo=UTC)


def latest_before(tenant: Tenant, now: datetime | None = None) -> datetime:
    """Now minus the tenant's retention: the latest `before` a cleanup may use."""
    return (now or timezone.now()) - timedelta(days=tenant.retention_days)


def effective_before(tenant: Tenant, requested: datetime | None) -> datetime:
    """The start of the UTC day of `requested` (default: now minus retention).

    Invalid naming `before` when it is later than now minus the tenant's
    retention: events younger than the retention are never cleaned up.
    """
    latest = latest_before(tenant)
    if requested is not None and requested > latest:
        raise Invalid(
            {
                "before": [
                    Message(
                        f"before must not be later than {latest.isoformat()} (now minus the "
                        f"tenant's retention of {tenant.retention_days} days).",
                        "after_retention",
                    )
                ]
            }
        )
    return day_start(requested or latest)


def preview(tenant: Tenant, before: datetime) -> Preview:
    """How many events a cleanup up to `before` (already effective) would archive and delete."""
    expired = count_between(tenant.id, None, before)
    return Preview(
        before=before, to_archive=expired if tenant.archive_before_delete else 0, to_delete=expired
    )


def planned(job: Job) -> Preview:
    """What a started job was found to do (its `before`, archive policy and total)."""
    to_archive = job.total if job.params.get("archive", True) else 0
    return Preview(
        before=datetime.fromisoformat(job.params["before"]),
        to_archive=to_archive,
        to_delete=job.total,
    )


# A loose index scan: one probe of the (tenant_id, timestamp) index per day that
# has events, however many events each day holds.
DAYS_SQL = """
WITH RECURSIVE days AS (
    SELECT (SELECT min("timestamp") FROM logs_event
            WHERE tenant_id = %(tenant)s AND "timestamp" < %(before)s) AS first
    UNION ALL
    SELECT (SELECT min("timestamp") FROM logs_event
            WHERE tenant_id = %(tenant)s AND "timestamp" < %(before)s
              AND "timestamp" >= date_trunc('day', days.first, 'UTC') + interval '1 day')
    FROM days WHERE days.first IS NOT NULL
)
SELECT (first AT TIME ZONE 'UTC')::date FROM days WHERE first IS NOT NULL
"""


def days_to_process(tenant_id: str, before: datetime) -> list[date]:
    """The UTC days before `before` on which the tenant has events, oldest first."""
    with transaction.atomic():
        activate(tenant_id)
        with connection.cursor() as cursor:
            cursor.execute(DAYS_SQL, {"tenant": tenant_id, "before": before})
            return [row[0] for row in cursor.fetchall()]


@transaction.atomic
def job_start(
    *,
    tenant: Tenant,
    before: datetime,
    kind: JobKind,
    requested_by: str,
    origin: audit.Origin,
    dedupe_key: str | None = None,
    send: bool = True,
) -> tuple[Job, Preview, bool]:
    """Create the job and its steps, record the cleanup in the tenant's log (an
    `admin` event CLEANUP: who, up to when, how many), and send one message per
    step after COMMIT.

    Returns (job, what it will do, created); an existing job of `dedupe_key`
    is returned as it is (the schedule's run of a tenant and day exists once).
    `send=False` leaves the steps to the caller (manage.py cleanup runs them
    itself; if it dies, the sweep sends what it left).
    """
    from archival.tasks import send_steps  # tasks import this module

    if dedupe_key is not None:  # before counting: a rerun of the schedule scans no events
        existing = job_selectors.job_by_dedupe_key(dedupe_key)
        if existing is not None:
            return existing, planned(existing), False
    plan = preview(tenant, before)
    days = days_to_process(tenant.id, before)
    job, created = jobs.job_create(
        kind=kind,
        tenant_id=tenant.id,
        params={
            "before": before.isoformat(),
            "archive": tenant.archive_before_delete,
            "requested_by": requested_by,
        },
        days=days,
        total=plan.to_delete,
        dedupe_key=dedupe_key,
    )
    if created:
        _record(job, plan, days=len(days), actor=requested_by, origin=origin)
        step_ids = list(job.steps.values_list("pk", flat=True))
        if send:
            transaction.on_commit(lambda: send_steps(step_ids))
    return job, plan, created


def _record(job: Job, plan: Preview, *, days: int, actor: str, origin: audit.Origin) -> None:
    audit.record_admin(
        tenant_id=job.tenant_id,
        actor=actor,
        action=CLEANUP,
        resource_type=audit.AUDIT_LOG,
        resource_id=str(job.pk),
        origin=origin,
        details={
            "job_id": str(job.pk),
            "kind": job.kind,
            "before": plan.before.isoformat(),
            "archive": job.params.get("archive", True),
            "to_archive": plan.to_archive,
            "to_delete": plan.to_delete,
            "days": days,
        },
        message=f"Cleanup of events before {plan.before.isoformat()}: {plan.to_delete} events.",
    )


def record_dry_run(tenant: Tenant, plan: Preview, *, actor: str, origin: audit.Origin) -> None:
    """A dry run reads the tenant's log: an `access` event CLEANUP with the counts."""
    audit.record_access(
        tenant_id=tenant.id,
        actor=actor,
        action=audit.AccessAction.CLEANUP,
        origin=origin,
        result_count=plan.to_delete,
        details={"dry_run": True, "before": plan.before.isoformat(), "to_archive": plan.to_archive},
    )
