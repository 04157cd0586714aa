"""The JSON shapes of rules and fired alerts (API answers and the live stream)."""

from __future__ import annotations

from typing import Any

from .models import Alert, AlertRule


def condition_json(rule: AlertRule) -> dict[str, Any]:
    condition: dict[str, Any] = {"type": rule.condition_type, "group_by": rule.group_by}
    if rule.condition_type == "threshold":
        condition.update(count=rule.threshold_count, window_seconds=rule.window_seconds)
    return condition


def rule_json(rule: AlertRule) -> dict[str, Any]:
    return {
        "id": str(rule.id),
        "tenant_id": rule.tenant_id,
        "name": rule.name,
        "filters": rule.filters,
        "condition": condition_json(rule),
        "cooldown_seconds": rule.cooldown_seconds,
        "destinations": [str(d) for d in rule.destinations],
        "enabled": rule.enabled,
        "created_by": rule.created_by,
        "created_at": _iso(rule.created_at),
        "updated_at": _iso(rule.updated_at),
    }


def alert_json(alert: Alert) -> dict[str, Any]:
    return {
        "id": str(alert.id),
        "tenant_id": alert.tenant_id,
        "rule_id": str(alert.rule_id) if alert.rule_id else None,
        "rule_name": alert.rule_name,
        "condition": alert.condition_type,
        "group_by": alert.group_by,
        "group_value": alert.group_value,
        "count": alert.count,
        "window_start": _iso(alert.window_start),
        "window_end": _iso(alert.window_end),
        "trigger_event_id": str(alert.trigger_event_id),
        "event_ids": [str(i) for i in alert.event_ids],
        "fired_at": _iso(alert.fired_at),
        "acknowledged_at": _iso(alert.acknowledged_at),
        "acknowledged_by": alert.acknowledged_by,
    }


def _iso(value) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None
