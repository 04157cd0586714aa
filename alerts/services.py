"""Writes of alert rules and acknowledgements; each is an `admin` event in the
tenant's log (logs/audit.py), in the same transaction."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import F, Func, Value
from django.utils import timezone

from auditlog_project.errors import Conflict, Invalid, Message
from destinations.models import Destination
from logs.audit import Origin, record_admin
from tenants.models import Tenant

from .models import Alert, AlertRule
from .wire import alert_json, rule_json

RESOURCE_RULE = "alert_rule"
RESOURCE_ALERT = "alert"


def _rule_fields(data: dict[str, Any]) -> dict[str, Any]:
    """Validated API data (RuleSerializer, possibly partial) as model fields."""
    fields: dict[str, Any] = {
        k: data[k]
        for k in ("name", "filters", "cooldown_seconds", "destinations", "enabled")
        if k in data
    }
    if "condition" in data:
        condition = data["condition"]
        fields.update(
            condition_type=condition["type"],
            threshold_count=condition.get("count") or 1,
            window_seconds=condition.get("window_seconds") or 0,
            group_by=condition.get("group_by"),
        )
    return fields


def _checked(tenant_id: str, data: dict[str, Any]) -> dict[str, Any]:
    """`_rule_fields(data)`, its destinations (unique, in order) all the tenant's own."""
    fields = _rule_fields(data)
    if "destinations" in fields:
        wanted = list(dict.fromkeys(fields["destinations"]))
        found = set(
            Destination.objects.filter(tenant_id=tenant_id, pk__in=wanted).values_list(
                "pk", flat=True
            )
        )
        if unknown := [str(d) for d in wanted if d not in found]:
            text = f"Not a destination of this tenant: {', '.join(unknown)}."
            raise Invalid({"destinations": [Message(text, "unknown_destination")]})
        fields["destinations"] = wanted
    return fields


def _audited(rule: AlertRule) -> dict[str, Any]:
    answer = rule_json(rule)
    audited = ("name", "filters", "condition", "cooldown_seconds", "destinations", "enabled")
    return {k: answer[k] for k in audited}


@transaction.atomic
def rule_create(
    *, tenant: Tenant, data: dict[str, Any], username: str, origin: Origin | None = None
) -> AlertRule:
    rule = AlertRule.objects.create(tenant=tenant, created_by=username, **_checked(tenant.pk, data))
    record_admin(
        tenant_id=tenant.pk,
        actor=username,
        action="ALERT_RULE_CREATE",
        resource_type=RESOURCE_RULE,
        resource_id=str(rule.id),
        after=_audited(rule),
        origin=origin,
    )
    return rule


@transaction.atomic
def rule_update(
    *, rule: AlertRule, data: dict[str, Any], username: str, origin: Origin | None = None
) -> AlertRule:
    """Apply a partial change. A changed filter or condition applies to events
    handled from now on; what was counted before stays counted."""
    before = _audited(rule)
    for name, value in _checked(rule.tenant_id, data).items():
        setattr(rule, name, value)
    rule.save()
    record_admin(
        tenant_id=rule.tenant_id,
        actor=username,
        action="ALERT_RULE_UPDATE",
        resource_type=RESOURCE_RULE,
        resource_id=str(rule.id),
        before=before,
        after=_audited(rule),
        origin=origin,
    )
    return rule


@transaction.atomic
def rule_delete(*, rule: AlertRule, username: str, origin: Origin | None = None) -> None:
    """Delete the rule and its counted matches; fired alerts stay (rule_id null)."""
    before = _audited(rule)
    rule_id, tenant_id = str(rule.id), rule.tenant_id
    rule.delete()
    record_admin(
        tenant_id=tenant_id,
        actor=username,
        action="ALERT_RULE_DELETE",
        resource_type=RESOURCE_RULE,
        resource_id=rule_id,
        before=before,
        origin=origin,
    )


@transaction.atomic
def alert_ack(*, alert: Alert, username: str, origin: Origin | None = None) -> Alert:
    """Acknowledge a fired alert once; a second acknowledgement is a Conflict."""
    updated = Alert.objects.filter(id=alert.id, acknowledged_at__isnull=True).update(
        acknowledged_at=timezone.now(), acknowledged_by=username
    )
    alert.refresh_from_db()
    if not updated:
        raise Conflict(
            f"Alert already acknowledged by {alert.acknowledged_by} at "
            f"{alert_json(alert)['acknowledged_at']}."
        )
    record_admin(
        tenant_id=alert.tenant_id,
        actor=username,
        action="ALERT_ACK",
        resource_type=RESOURCE_ALERT,
        resource_id=str(alert.id),
        after={"rule_name": alert.rule_name, "group_value": alert.group_value},
        origin=origin,
    )
    return alert


def forget_destination(sender, instance, **kwargs) -> None:
    """A deleted destination leaves the rules that named it (post_delete of
    Destination, in the deleting transaction); its pending deliveries go with it."""
    AlertRule.objects.filter(
        tenant_id=instance.tenant_id, destinations__contains=[instance.pk]
    ).update(destinations=Func(F("destinations"), Value(instance.pk), function="array_remove"))
