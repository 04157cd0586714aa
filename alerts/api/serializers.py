"""Shapes of the alert endpoints: every rule is checked here, by name."""

from __future__ import annotations

from rest_framework import serializers

from auditlog_project.errors import Invalid
from auditlog_project.validation import StrictSerializerMixin

from ..choices import ConditionType, GroupBy
from ..rules import normalised_filters

MAX_WINDOW_SECONDS = 7 * 24 * 3600
MAX_COOLDOWN_SECONDS = 7 * 24 * 3600
MAX_THRESHOLD = 100_000
MAX_DESTINATIONS = 10


class ConditionSerializer(StrictSerializerMixin, serializers.Serializer):
    type = serializers.ChoiceField(choices=ConditionType.choices)
    count = serializers.IntegerField(
        min_value=1,
        max_value=MAX_THRESHOLD,
        required=False,
        help_text="threshold: fire at this many matching events within the window.",
    )
    window_seconds = serializers.IntegerField(
        min_value=1,
        max_value=MAX_WINDOW_SECONDS,
        required=False,
        help_text="threshold: the window, on the events' timestamps (at most 7 days).",
    )
    group_by = serializers.ChoiceField(
        choices=GroupBy.choices,
        allow_null=True,
        required=False,
        default=None,
        help_text="Count (and cool down) per actor or per client address; null: all together.",
    )

    def validate(self, attrs: dict) -> dict:
        if attrs["type"] == ConditionType.THRESHOLD:
            missing = [n for n in ("count", "window_seconds") if attrs.get(n) is None]
            if missing:
                raise serializers.ValidationError(
                    {n: ["Required for a threshold condition."] for n in missing}, "required"
                )
        else:
            given = [n for n in ("count", "window_seconds") if attrs.get(n) is not None]
            if given:
                raise serializers.ValidationError(
                    {n: ["Only for a threshold condition."] for n in given}, "invalid"
                )
        return attrs


class FiltersField(serializers.JSONField):
    """The list endpoint's filter names -> values (alerts/rules.py)."""

    def to_internal_value(self, data):
        try:
            return normalised_filters(data)
        except Invalid as invalid:
            raise serializers.ValidationError(invalid.errors["filters"]) from None


class RuleSerializer(StrictSerializerMixin, serializers.Serializer):
    name = serializers.CharField(max_length=128)
    filters = FiltersField(
        default=dict,
        help_text='List filters, e.g. {"action": "LOGIN_FAILED", "severity": "WARNING,ERROR"}'
        "; names: action, severity, category, user_id, session_id, resource_type, "
        "resource_id, request_id, ip_address, q.",
    )
    condition = ConditionSerializer()
    cooldown_seconds = serializers.IntegerField(
        min_value=0,
        max_value=MAX_COOLDOWN_SECONDS,
        default=0,
        help_text="After firing, the rule stays quiet (per group) for this long, on the "
        "events' timestamps.",
    )
    destinations = serializers.ListField(
        child=serializers.UUIDField(),
        max_length=MAX_DESTINATIONS,
        default=list,
        help_text="Ids of the tenant's destinations (/api/v1/destinations) that receive each "
        'alert the rule fires: a signed POST of {"alerts": [alert]}, with the log '
        "streams' signature headers, retried with backoff.",
    )
    enabled = serializers.BooleanField(default=True)


class RuleOutSerializer(RuleSerializer):
    id = serializers.UUIDField()
    tenant_id = serializers.CharField()
    created_by = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class RulePageSerializer(serializers.Serializer):
    results = RuleOutSerializer(many=True)


class AlertSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    tenant_id = serializers.CharField()
    rule_id = serializers.UUIDField(allow_null=True, help_text="null once the rule is deleted.")
    rule_name = serializers.CharField()
    condition = serializers.ChoiceField(choices=ConditionType.choices)
    group_by = serializers.CharField(allow_null=True)
    group_value = serializers.CharField(allow_null=True)
    count = serializers.IntegerField(help_text="Matching events in the window when it fired.")
    window_start = serializers.DateTimeField()
    window_end = serializers.DateTimeField()
    trigger_event_id = serializers.UUIDField()
    event_ids = serializers.ListField(child=serializers.UUIDField(), help_text="At most 100.")
    fired_at = serializers.DateTimeField()
    acknowledged_at = serializers.DateTimeField(allow_null=True)
    acknowledged_by = serializers.CharField(allow_null=True)


class AlertPageSerializer(serializers.Serializer):
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)
    results = AlertSerializer(many=True)
