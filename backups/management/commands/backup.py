"""`manage.py backup`: back up the database to the object store, list, prune.

manage.py backup                 a backup now (id manual-<UTC time>, or --id)
manage.py backup --scheduled     what beat runs: this period's backup if missing, then retention
manage.py backup --list          the stored backups
manage.py backup --prune         apply retention (BACKUP_KEEP_COUNT, BACKUP_KEEP_DAYS)
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError

from backups import selectors, services
from backups.errors import BackupError


class Command(BaseCommand):
    help = "Back up the database (pg_dump) to the object store with a manifest; list; prune."

    def add_arguments(self, parser):
        action = parser.add_mutually_exclusive_group()
        action.add_argument("--list", action="store_true", help="list the stored backups")
        action.add_argument("--prune", action="store_true", help="apply retention now")
        action.add_argument(
            "--scheduled", action="store_true", help="the scheduled run (idempotent per period)"
        )
        parser.add_argument("--id", help="the new backup's id (default manual-<UTC time>)")
        parser.add_argument(
            "--database", help="back up this database (default: BACKUP_DATABASE_URL's)"
        )

    def handle(self, *args, **options):
        try:
            if options["list"]:
                self._list()
            elif options["prune"]:
                self._say(f"pruned: {', '.join(services.backups_prune()) or 'nothing'}")
            elif options["scheduled"]:
                self._say(str(services.scheduled_backup_run()))
            else:
                self._backup(options["id"], options["database"])
        except BackupError as exc:
            raise CommandError(str(exc)) from None

    def _backup(self, backup_id: str | None, database: str | None) -> None:
        source = services.source_database()
        if database:
            source = source.named(database)
        backup_id = backup_id or datetime.now(UTC).strftime("manual-%Y%m%dT%H%M%SZ")
        manifest = services.backup_create(source=source, backup_id=backup_id)
        events = sum(manifest["events_per_tenant"].values())
        self._say(
            f"backup {backup_id}: database {source.name}, {manifest['dump']['bytes']} bytes, "
            f"sha256 {manifest['dump']['sha256']}, {events} events of "
            f"{len(manifest['events_per_tenant'])} tenants, {manifest['seconds']} s"
        )

    def _list(self) -> None:
        for backup in selectors.backup_list():
            state = "complete" if backup.complete else "INCOMPLETE"
            self._say(
                f"{backup.backup_id}\t{state}\t{backup.size}\t{backup.created_at.isoformat()}"
            )

    def _say(self, line: str) -> None:
        self.stdout.write(line)
