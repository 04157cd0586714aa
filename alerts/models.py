"""Alert rules, the matches they counted and the alerts they fired.

All three tables are tenant-owned and under row-level security (ENABLE +
FORCE) as the events table: a row is visible only in a transaction whose
`app.tenant_id` is its tenant. Rules are written by the API; matches and
alerts only by the pipeline's `alerts` consumer (alerts/evaluate.py), in the
drain's transaction, so they commit together with its watermark.
"""

from __future__ import annotations

import uuid

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone

from tenants.models import Tenant

from .choices import ConditionType, DeliveryState, GroupBy


class AlertRule(models.Model):
    """A tenant admin's rule: which events (`filters`, the list endpoint's
    names and values) and when to fire (`condition_type`, `threshold_count`
    events within `window_seconds`, counted per `group_by`), then quiet for
    `cooldown_seconds` (per group). Each alert it fires is also sent to its
    `destinations` (the tenant's webhooks, destinations/; alerts/delivery.py)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.DO_NOTHING, related_name="+")
    name = models.CharField(max_length=128)
    filters = models.JSONField(default=dict)
    condition_type = models.CharField(max_length=16, choices=ConditionType.choices)
    threshold_count = models.PositiveIntegerField(default=1)
    window_seconds = models.PositiveIntegerField(default=0)
    group_by = models.CharField(max_length=16, choices=GroupBy.choices, null=True)
    cooldown_seconds = models.PositiveIntegerField(default=0)
    destinations = ArrayField(models.UUIDField(), default=list, blank=True)
    enabled = models.BooleanField(default=True)
    created_by = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "alerts_rule"
        indexes = [models.Index(fields=["tenant", "created_at"], name="alerts_rule_tenant")]

    def __str__(self) -> str:
        return f"{self.tenant_id}: {self.name}"


class RuleMatch(models.Model):
    """An event a rule matched: what thresholds count, and the evaluation's
    idempotency key (one row per rule and event: a batch handed again finds
    its events already counted and fires nothing)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.DO_NOTHING, related_name="+")
    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="+")
    event_id = models.UUIDField()
    timestamp = models.DateTimeField()
    group_key = models.CharField(max_length=255, default="")

    class Meta:
        db_table = "alerts_match"
        constraints = [
            models.UniqueConstraint(fields=["rule", "event_id"], name="alerts_match_once")
        ]
        indexes = [
            models.Index(fields=["rule", "group_key", "timestamp"], name="alerts_match_window")
        ]

    def __str__(self) -> str:
        return f"{self.rule_id} matched {self.event_id}"


class Alert(models.Model):
    """A fired alert: the rule (its name kept if the rule is deleted), the
    group, the window and the events that made it fire (at most
    MAX_EVENT_IDS, the newest last), and its acknowledgement."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.DO_NOTHING, related_name="+")
    rule = models.ForeignKey(AlertRule, on_delete=models.SET_NULL, null=True, related_name="+")
    rule_name = models.CharField(max_length=128)
    condition_type = models.CharField(max_length=16, choices=ConditionType.choices)
    group_by = models.CharField(max_length=16, choices=GroupBy.choices, null=True)
    group_value = models.CharField(max_length=255, null=True)
    count = models.PositiveIntegerField()
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    trigger_event_id = models.UUIDField()
    event_ids = models.JSONField(default=list)
    batch_id = models.BigIntegerField()
    fired_at = models.DateTimeField(auto_now_add=True)
    acknowledged_at = models.DateTimeField(null=True)
    acknowledged_by = models.CharField(max_length=255, null=True)

    MAX_EVENT_IDS = 100

    class Meta:
        db_table = "alerts_alert"
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "trigger_event_id"], name="alerts_alert_once_per_trigger"
            )
        ]
        indexes = [
            models.Index(fields=["tenant", "-fired_at", "-id"], name="alerts_alert_tenant_fired"),
            models.Index(fields=["rule", "group_value", "-window_end"], name="alerts_alert_last"),
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id}: {self.rule_name} at {self.window_end}"


class AlertDelivery(models.Model):
    """One fired alert to one destination of its rule: an outbox row, written
    with the alert in the drain's transaction (never lost once the alert
    exists), sent and retried by alerts/delivery.py. `next_attempt_at` is
    also the claim: a worker moves it a lease ahead before it sends."""

    tenant = models.ForeignKey(Tenant, on_delete=models.DO_NOTHING, related_name="+")
    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="deliveries")
    destination = models.ForeignKey(
        "destinations.Destination", on_delete=models.CASCADE, related_name="+"
    )
    state = models.CharField(
        max_length=16, choices=DeliveryState.choices, default=DeliveryState.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.CharField(max_length=500, blank=True, default="")
    delivered_at = models.DateTimeField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "alerts_delivery"
        constraints = [
            models.UniqueConstraint(fields=["alert", "destination"], name="alerts_delivery_once")
        ]
        indexes = [
            models.Index(
                fields=["tenant", "next_attempt_at"],
                name="alerts_delivery_due",
                condition=models.Q(state="pending"),
            )
        ]

    def __str__(self) -> str:
        return f"{self.alert_id} -> {self.destination_id}: {self.state}"
