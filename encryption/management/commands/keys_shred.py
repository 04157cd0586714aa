"""manage.py keys_shred --tenant ID --yes: destroy a tenant's data keys (irreversible)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from encryption import services
from tenants.management.selection import chosen_tenants


class Command(BaseCommand):
    help = (
        "Crypto-shred a tenant: destroy all its data keys, so the encrypted fields of "
        "its events read '[shredded]' everywhere (API, export, stream, archive). "
        "Irreversible; --yes confirms."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--actor", default="system", help="who runs this (recorded in the admin event)"
        )
        parser.add_argument("--tenant", required=True, help="the tenant id")
        parser.add_argument("--yes", action="store_true", help="confirm: this cannot be undone")

    def handle(self, *args, **options):
        [tenant_id] = chosen_tenants([options["tenant"]])
        if not options["yes"]:
            raise CommandError("crypto-shredding cannot be undone: add --yes to confirm")
        destroyed = services.keys_shred(tenant_id=tenant_id, actor=options["actor"])
        self.stdout.write(f"{tenant_id}: {destroyed} data key(s) destroyed")
