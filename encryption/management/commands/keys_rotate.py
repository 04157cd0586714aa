"""manage.py keys_rotate --tenant ID [--tenant ID ...] | --all: a new data key version."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from encryption import services
from tenants.models import Tenant


def chosen_tenants(options) -> list[str]:
    if options["all"]:
        return list(Tenant.objects.order_by("id").values_list("id", flat=True))
    wanted = options["tenants"]
    known = set(Tenant.objects.filter(id__in=wanted).values_list("id", flat=True))
    if unknown := [t for t in wanted if t not in known]:
        raise CommandError(f"no such tenant: {', '.join(unknown)}")
    return wanted


class Command(BaseCommand):
    help = (
        "Create a new data key version for tenants: new events are encrypted with it, "
        "older events stay readable with their own version."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--actor", default="system", help="who runs this (recorded in the admin event)"
        )
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--all", action="store_true", help="every tenant")
        which.add_argument("--tenant", action="append", dest="tenants", help="a tenant id")

    def handle(self, *args, **options):
        for tenant_id in chosen_tenants(options):
            version = services.key_rotate(tenant_id=tenant_id, actor=options["actor"])
            self.stdout.write(f"{tenant_id}: data key v{version} encrypts new events")
