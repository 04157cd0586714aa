"""manage.py archive: archive tenants' events of a range of UTC days to S3.

The same work retention does before deleting (archival/archive.py), run by
hand: each day is written, read back and verified; days already verified are
skipped. Nothing is deleted. Safe to rerun and to run beside the workers (a
day is locked while one process works on it).
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from archival.archive import archive_tenant_day
from archival.errors import ArchiveVerificationFailed
from archival.management.progress import Progress, day_range, each_day
from tenants.management.selection import add_tenant_arguments, chosen_tenants


class Command(BaseCommand):
    help = "Archive (and verify) tenants' events of the UTC days --from..--to to S3."

    def add_arguments(self, parser):
        add_tenant_arguments(parser)
        parser.add_argument("--from", dest="first", required=True, help="first day, YYYY-MM-DD")
        parser.add_argument("--to", dest="last", required=True, help="last day, YYYY-MM-DD")

    def handle(self, *args, **options):
        days = day_range(options["first"], options["last"], ended_only=True)
        tenant_ids = chosen_tenants(options["tenants"])
        progress = Progress(self.stdout, len(days) * len(tenant_ids), "archive")
        failed = []
        for tenant_id, day in each_day(tenant_ids, days):
            try:
                record = archive_tenant_day(tenant_id, day)
            except ArchiveVerificationFailed as exc:
                failed.append(f"{tenant_id} {day}: {exc.message}")
                progress.step(f"{tenant_id} {day} FAILED", 0)
                continue
            progress.step(f"{tenant_id} {day}: {record.row_count} rows verified", record.row_count)
        progress.finish()
        if failed:
            raise CommandError("verification failed (rerun to retry):\n" + "\n".join(failed))
        self.stdout.write(f"archived {progress.rows} events of {progress.done} tenant-days")
