"""manage.py timescale_compression: (re)set TimescaleDB compression of old chunks.

Run as the table owner (DATABASE_OWNER_URL). Without TimescaleDB it says so
and changes nothing; `--print` shows the statements it would run.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand

from archival.timescale import compression_apply, compression_sql


class Command(BaseCommand):
    help = "Compress TimescaleDB chunks older than --after-days (no-op without TimescaleDB)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--after-days", type=int, default=settings.TIMESCALE_COMPRESS_AFTER_DAYS
        )
        parser.add_argument("--print", action="store_true", help="print the SQL, run nothing")

    def handle(self, *args, **options):
        days = options["after_days"]
        if options["print"]:
            self.stdout.write(";\n".join(compression_sql(days)) + ";")
            return
        if compression_apply(days):
            self.stdout.write(f"compression policy set: chunks older than {days} days")
        else:
            self.stdout.write("TimescaleDB is not installed here (logs_event is no hypertable)")
