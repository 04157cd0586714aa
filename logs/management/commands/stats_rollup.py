"""manage.py stats_rollup: (re)build the stats rollup from the raw events.

For events written around the dirty marking: a COPY (the benchmark seeds this
way), a restore, a manual fix. Runs as the application role or the owner:
each tenant is activated in its own transactions, so row-level security
holds either way. Safe while ingest and the refresh task run.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from logs.filtersets import OffsetDateTimeField
from logs.stats import rollup_refresh
from tenants.models import Tenant


class Command(BaseCommand):
    help = (
        "Recompute the stats rollup of tenants from their raw events: every hour from "
        "--since to --until (default: all hours with events or rollup rows)."
    )

    def add_arguments(self, parser):
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--all", action="store_true", help="every tenant")
        which.add_argument("--tenant", action="append", dest="tenants", help="a tenant id")
        parser.add_argument("--since", help="ISO 8601 time with an offset (its hour included)")
        parser.add_argument("--until", help="ISO 8601 time with an offset (its hour included)")

    def handle(self, *args, **options):
        field = OffsetDateTimeField(required=False)
        try:
            since, until = field.clean(options["since"]), field.clean(options["until"])
        except ValidationError as error:
            raise CommandError(f"--since/--until: {' '.join(error.messages)}") from None
        tenants = options["tenants"] or list(
            Tenant.objects.order_by("id").values_list("id", flat=True)
        )
        unknown = set(tenants) - set(
            Tenant.objects.filter(id__in=tenants).values_list("id", flat=True)
        )
        if unknown:
            raise CommandError(f"unknown tenant(s): {', '.join(sorted(unknown))}")
        for tenant_id in tenants:
            hours = rollup_refresh.rollup_rebuild(
                tenant_id=tenant_id,
                since=since,
                until=until,
                batch_hours=settings.STATS_ROLLUP_BATCH_HOURS,
            )
            self.stdout.write(f"{tenant_id}: {hours} hours recomputed")
