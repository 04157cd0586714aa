"""Which tenants a management command works on: `--tenant ID ...` or `--all`."""

from __future__ import annotations

from django.core.management.base import CommandError

from tenants.models import Tenant


def add_tenant_arguments(parser) -> None:
    """`--all` or one or more `--tenant ID` (exactly one of the two)."""
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--all", action="store_true", help="every tenant")
    which.add_argument("--tenant", action="append", dest="tenants", help="a tenant id")


def chosen_tenants(names: list[str] | None) -> list[str]:
    """The named tenants (all of them, by id, when None); CommandError for unknown ids."""
    if not names:
        return list(Tenant.objects.order_by("id").values_list("id", flat=True))
    known = set(Tenant.objects.filter(id__in=names).values_list("id", flat=True))
    unknown = sorted(set(names) - known)
    if unknown:
        raise CommandError(f"unknown tenant(s): {', '.join(unknown)}")
    return names
