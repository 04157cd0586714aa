"""`manage.py restore BACKUP_ID --target NAME`: a backup back into a database.

Downloads the dump, checks its size and SHA-256 against the manifest, creates
the target database (as DATABASE_OWNER_URL's role) and restores into it, grants
the application role, then checks every table's row counts and content hashes
against the manifest. A target that holds tables is refused unless --force.
BACKUP_ID may be `latest`.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from backups import selectors, services
from backups.errors import BackupError


class Command(BaseCommand):
    help = "Restore a backup from the object store into a named database, verified."

    def add_arguments(self, parser):
        parser.add_argument("backup_id", help="a backup id from `backup --list`, or `latest`")
        parser.add_argument("--target", required=True, help="the database to restore into")
        parser.add_argument(
            "--force", action="store_true", help="replace the target if it holds tables"
        )

    def handle(self, *args, **options):
        try:
            backup_id = options["backup_id"]
            if backup_id == "latest":
                backup_id = selectors.backup_latest_id()
            target = services.restore_target(options["target"])
            checker = services.source_database()
            report = services.backup_restore(
                backup_id=backup_id, target=target, checker=checker, force=options["force"]
            )
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        for note in report.notes:
            self.stdout.write(note)
        events = sum(report.events_per_tenant.values())
        self.stdout.write(
            f"restored {report.backup_id} into {report.database}: {report.bytes} bytes "
            f"downloaded and verified in {report.seconds_download} s, restored in "
            f"{report.seconds_restore} s; {events} events of {len(report.events_per_tenant)} "
            "tenants, every table's rows and hashes match the manifest; "
            f"migrations: {report.migrations}"
        )
