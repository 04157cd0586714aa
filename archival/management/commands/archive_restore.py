"""manage.py archive_restore: put archived events of a range of UTC days back.

Reads each day's manifest and parts from S3, checks them, and inserts the rows
that are missing (archival/restore.py): idempotent, safe to rerun. Days with
no archive are reported and skipped. Stats follow (the hours are marked dirty).
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from archival.errors import ArchiveMissing, ArchiveVerificationFailed
from archival.management.progress import Progress, day_range, each_day
from archival.restore import restore_tenant_day
from logs import audit
from tenants.management.selection import chosen_tenants


class Command(BaseCommand):
    help = "Restore a tenant's archived events of the UTC days --from..--to from S3."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="the tenant id")
        parser.add_argument("--from", dest="first", required=True, help="first day, YYYY-MM-DD")
        parser.add_argument("--to", dest="last", required=True, help="last day, YYYY-MM-DD")

    def handle(self, *args, **options):
        days = day_range(options["first"], options["last"], ended_only=False)
        tenant_ids = chosen_tenants([options["tenant"]])
        progress = Progress(self.stdout, len(days), "restore")
        missing, failed, restored = [], [], 0
        for tenant_id, day in each_day(tenant_ids, days):
            try:
                result = restore_tenant_day(tenant_id, day)
            except ArchiveMissing:
                missing.append(day.isoformat())
                progress.step(f"{day}: no archive", 0)
                continue
            except ArchiveVerificationFailed as exc:
                failed.append(f"{day}: {exc.message}")
                progress.step(f"{day}: FAILED", 0)
                continue
            restored += result.restored
            progress.step(
                f"{day}: {result.restored} of {result.archived} restored", result.archived
            )
        progress.finish()
        _record(tenant_ids[0], options, restored=restored, archived=progress.rows, missing=missing)
        if missing:
            self.stdout.write(f"no archive for: {', '.join(missing)}")
        if failed:
            raise CommandError("refused (nothing inserted for these days):\n" + "\n".join(failed))
        self.stdout.write(f"restored {restored} events ({progress.rows} archived rows read)")


def _record(tenant_id: str, options: dict, *, restored: int, archived: int, missing: list) -> None:
    """The restore is an admin event in the tenant's own log (who, what range, how many)."""
    with transaction.atomic():
        audit.record_admin(
            tenant_id=tenant_id,
            actor="system",
            action="ARCHIVE_RESTORE",
            resource_type="audit_log",
            origin=audit.COMMAND,
            details={
                "from": options["first"],
                "to": options["last"],
                "restored": restored,
                "archived_rows": archived,
                "days_without_archive": len(missing),
            },
            message=f"archive restore {options['first']}..{options['last']}: {restored} events",
        )
