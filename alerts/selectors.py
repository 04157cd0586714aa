"""Reads of the alerts app. Scopes come from TenantScopedAPIView (tenant
already filtered and activated for row-level security)."""

from __future__ import annotations

from uuid import UUID

from django.db.models import QuerySet

from .models import Alert, AlertRule


def rules(scope: QuerySet[AlertRule]) -> QuerySet[AlertRule]:
    return scope.order_by("created_at", "id")


def rule(scope: QuerySet[AlertRule], rule_id: UUID) -> AlertRule | None:
    return scope.filter(id=rule_id).first()


def alerts(scope: QuerySet[Alert], *, acknowledged: bool | None = None) -> QuerySet[Alert]:
    """The scope's fired alerts (the pagination orders them, newest first)."""
    if acknowledged is not None:
        scope = scope.filter(acknowledged_at__isnull=not acknowledged)
    return scope


def alert(scope: QuerySet[Alert], alert_id: UUID) -> Alert | None:
    return scope.filter(id=alert_id).first()


def enabled_rules(tenant_id: str) -> list[AlertRule]:
    """The tenant's enabled rules (the evaluator's read; the tenant is activated)."""
    return list(AlertRule.objects.filter(tenant_id=tenant_id, enabled=True).order_by("id"))
