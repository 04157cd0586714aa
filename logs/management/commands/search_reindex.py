"""manage.py search_reindex: (re)build the OpenSearch index of tenants from PostgreSQL.

For a new cluster, a mapping change (bump logs/search/client.py VERSION), or
after an outage longer than the pipeline's batch retention. Prints progress
per chunk. Refuses to run when OPENSEARCH_URL is not set.
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from logs.search import client as cluster
from logs.search.reindex import reindex_tenant
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Index every stored event of the given tenants (or all) into OpenSearch."

    def add_arguments(self, parser):
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--all", action="store_true", help="every tenant")
        which.add_argument("--tenant", action="append", dest="tenants", help="a tenant id")
        parser.add_argument("--chunk", type=int, default=1000, help="events per bulk request")

    def handle(self, *args, **options):
        if not cluster.enabled():
            raise CommandError("OPENSEARCH_URL is not set: PostgreSQL full text needs no reindex")
        if options["chunk"] < 1:
            raise CommandError("--chunk must be at least 1")
        known = set(Tenant.objects.values_list("id", flat=True))
        tenants = options["tenants"] or sorted(known)
        if missing := sorted(set(tenants) - known):
            raise CommandError(f"unknown tenant(s): {', '.join(missing)}")
        started = time.monotonic()
        grand = 0
        for tenant_id in tenants:
            grand += reindex_tenant(tenant_id, chunk=options["chunk"], progress=self._progress)
        elapsed = time.monotonic() - started
        self.stdout.write(
            f"indexed {grand} event(s) of {len(tenants)} tenant(s) in {elapsed:.1f} s"
        )

    def _progress(self, tenant_id: str, done: int, total: int) -> None:
        share = f"{100 * done / total:.0f}%" if total else "100%"
        self.stdout.write(f"{tenant_id}: {done}/{total} ({share})")
