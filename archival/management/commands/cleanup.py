"""manage.py cleanup: archive (per each tenant's policy) and delete expired events.

The same job the endpoint and the daily schedule start (archival/retention/),
run in this process with a progress line, or handed to the workers with
--enqueue. Recorded in each tenant's log like any cleanup. Safe to rerun and
to run beside the workers: every tenant-day is claimed before it is worked on;
if this process dies, the sweep (archival.jobs_resume) sends what it left to
the workers.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from django.core.management.base import BaseCommand, CommandError

from archival.management.progress import Progress
from archival.retention import planning, steps
from auditlog_project.errors import Invalid
from jobs.choices import JobKind
from jobs.models import JobStep
from logs import audit
from tenants.management.selection import add_tenant_arguments, chosen_tenants
from tenants.models import Tenant


def parse_before(value: str | None) -> datetime | None:
    """An ISO 8601 instant with an offset, or a date (its start, UTC)."""
    if value is None:
        return None
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), datetime.min.time(), tzinfo=UTC)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--before: {value!r} is not a date or an ISO 8601 instant.") from None
    if moment.utcoffset() is None:
        raise CommandError("--before: include a UTC offset (e.g. 2026-01-01T00:00:00Z).")
    return moment.astimezone(UTC)


class Command(BaseCommand):
    help = "Archive (per tenant policy), verify and delete events older than the retention."

    def add_arguments(self, parser):
        add_tenant_arguments(parser)
        parser.add_argument(
            "--before",
            help="events older than this go (date or ISO instant; rounded down to its UTC "
            "day); default: now minus each tenant's retention_days",
        )
        parser.add_argument("--dry-run", action="store_true", help="only count")
        parser.add_argument(
            "--enqueue", action="store_true", help="send the work to the workers (SQS)"
        )

    def handle(self, *args, **options):
        requested = parse_before(options["before"])
        for tenant in self._tenants(options["tenants"]):
            try:
                before = planning.effective_before(tenant, requested)
            except Invalid as exc:
                raise CommandError(f"{tenant.id}: {exc.errors['before'][0]}") from None
            if options["dry_run"]:
                plan = planning.preview(tenant, before)
                self.stdout.write(
                    f"{tenant.id}: before {before.isoformat()}: {plan.to_archive} to archive, "
                    f"{plan.to_delete} to delete"
                )
                continue
            self._clean(tenant, before, enqueue=options["enqueue"])

    def _tenants(self, names: list[str] | None) -> list[Tenant]:
        return list(Tenant.objects.filter(id__in=chosen_tenants(names)).order_by("id"))

    def _clean(self, tenant: Tenant, before: datetime, *, enqueue: bool) -> None:
        job, plan, _ = planning.job_start(
            tenant=tenant,
            before=before,
            kind=JobKind.CLEANUP,
            requested_by="command",
            origin=audit.COMMAND,
            send=enqueue,
        )
        if enqueue:
            self.stdout.write(f"{tenant.id}: job {job.pk} sent ({plan.to_delete} events)")
            return
        day_steps = list(JobStep.objects.filter(job=job).order_by("day"))
        progress = Progress(self.stdout, max(len(day_steps), 1), f"{tenant.id} cleanup")
        for step in day_steps:
            outcome = steps.step_run(step.pk)
            step.refresh_from_db()
            progress.step(f"{step.day}: {outcome}", step.deleted)
        progress.finish()
        job.refresh_from_db()
        self.stdout.write(
            f"{tenant.id}: job {job.pk} {job.state}: {job.result.get('archived', 0)} archived, "
            f"{job.done} deleted of {job.total} (before {before.isoformat()})"
        )
