"""manage.py keys_rewrap [--tenant ID ...]: wrap data keys with the current master key."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from encryption import master, services
from tenants.management.selection import chosen_tenants


class Command(BaseCommand):
    help = (
        "Wrap every live data key with the current master key (ENCRYPTION_KMS_KEY_ID, "
        "else ENCRYPTION_MASTER_KEY). The old master key must still unwrap: keep it in "
        "ENCRYPTION_RETIRED_MASTER_KEYS (local) or enabled (KMS) until this finishes. "
        "No event is rewritten. Safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--actor", default="system", help="who runs this (recorded in the admin event)"
        )
        parser.add_argument("--tenant", action="append", dest="tenants", help="only this tenant")

    def handle(self, *args, **options):
        tenant_ids = chosen_tenants(options["tenants"]) if options["tenants"] else None
        try:
            result = services.keys_rewrap(tenant_ids=tenant_ids, actor=options["actor"])
        except master.MasterKeyError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"{result.rewrapped} data key(s) re-wrapped with {result.master_key}; "
            f"{result.already_current} already were"
        )
