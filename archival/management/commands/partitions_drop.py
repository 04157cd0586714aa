"""manage.py partitions_drop: detach and drop the daily partitions whose every row
is past its tenant's retention and archived (or that are empty).

What the daily beat task `archival.partitions_drop_expired` does, run here
(archival/retention/dropping.py). Safe to rerun: a dropped day is absent, a
day that may not be dropped is kept and the reason printed.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from archival.retention.dropping import partitions_drop_expired


class Command(BaseCommand):
    help = "Drop daily event partitions that retention has fully expired and archived."

    def handle(self, *args, **options) -> None:
        report = partitions_drop_expired()
        for day, reason in sorted(report.kept.items()):
            self.stdout.write(f"kept {day}: {reason}")
        for day in report.busy:
            self.stdout.write(f"busy {day}: locks not granted, left to the next run")
        self.stdout.write(
            f"dropped {len(report.dropped)} partition(s), {report.rows} event(s); "
            f"longest drop transaction {report.longest_lock_ms:.1f} ms "
            f"(DETACH + DROP {report.longest_detach_ms:.1f} ms)"
        )
