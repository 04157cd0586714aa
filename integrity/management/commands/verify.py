"""`manage.py verify`: check tenants' events, leaves and checkpoints (integrity/verification.py).

Exit status 1 when anything fails, with one line per finding naming the event
id, leaf or checkpoint; 0 and a summary when everything verifies. Findings are
also recorded as a CRITICAL admin event in the tenant's log (`--no-record`: not).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from django.core.management.base import BaseCommand, CommandError

from archival.management.progress import Progress
from integrity.encoding import parse_utc
from integrity.verification import tenant_verify, tenant_verify_and_record
from tenants.management.selection import chosen_tenants


def _moment(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_utc(value if "T" in value else f"{value}T00:00:00Z")
    except ValueError:
        raise CommandError(f"{option}: {value!r} is not a date or an ISO 8601 time.") from None


class Command(BaseCommand):
    help = "Verify the tamper-evident log of one tenant (--tenant ID) or of every tenant."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--tenant", action="append", dest="tenants", help="a tenant id")
        parser.add_argument("--since", help="events dated from (YYYY-MM-DD or ISO 8601, UTC)")
        parser.add_argument("--until", help="events dated before (YYYY-MM-DD or ISO 8601)")
        parser.add_argument("--no-record", action="store_true", help="do not record findings")

    def _progress(self, tenant_id: str) -> Callable[[int], None]:
        """A line to stderr every 10,000 events of a large tenant."""
        return lambda checked: self.stderr.write(f"{tenant_id}: {checked} events checked")

    def handle(self, *args, **options) -> None:
        since = _moment(options["since"], "--since")
        until = _moment(options["until"], "--until")
        tenants = chosen_tenants(options["tenants"])
        progress = Progress(self.stderr, max(len(tenants), 1), "verified")
        verify = tenant_verify if options["no_record"] else tenant_verify_and_record
        failed = 0
        for tenant_id in tenants:
            problems = verify(
                tenant_id=tenant_id, since=since, until=until, progress=self._progress(tenant_id)
            )
            for problem in problems:
                self.stdout.write(f"FAIL {tenant_id} {problem}")
            failed += len(problems)
            progress.step(tenant_id, 0)
        progress.finish()
        if failed:
            raise CommandError(f"{failed} finding(s) in {len(tenants)} tenant(s)", returncode=1)
        self.stdout.write(f"OK: {len(tenants)} tenant(s) verified")
