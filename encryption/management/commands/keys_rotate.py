"""manage.py keys_rotate --tenant ID [--tenant ID ...] | --all: a new data key version."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from encryption import services
from tenants.management.selection import add_tenant_arguments, chosen_tenants


class Command(BaseCommand):
    help = (
        "Create a new data key version for tenants: new events are encrypted with it, "
        "older events stay readable with their own version."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--actor", default="system", help="who runs this (recorded in the admin event)"
        )
        add_tenant_arguments(parser)

    def handle(self, *args, **options):
        for tenant_id in chosen_tenants(options["tenants"]):
            version = services.key_rotate(tenant_id=tenant_id, actor=options["actor"])
            self.stdout.write(f"{tenant_id}: data key v{version} encrypts new events")
