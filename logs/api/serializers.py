"""JSON shapes of events.

Input is validated by logs.validation (hand-written for speed) and output is
built by `event_json`; the serializers below describe the same shapes for the
OpenAPI schema and are not used per request.
"""

from __future__ import annotations

from datetime import datetime

from rest_framework import serializers

from ..choices import Severity


def _iso(value: datetime) -> str:
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def event_json(row: dict) -> dict:
    """A stored event (selector row) as the API returns it."""
    out = dict(row)
    out["id"] = str(row["id"])
    out["timestamp"] = _iso(row["timestamp"])
    out["received_at"] = _iso(row["received_at"])
    return out


class EventSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    tenant_id = serializers.CharField()
    timestamp = serializers.DateTimeField()
    received_at = serializers.DateTimeField(help_text="Set by the server.")
    user_id = serializers.CharField()
    session_id = serializers.CharField(allow_null=True)
    action = serializers.CharField()
    resource_type = serializers.CharField()
    resource_id = serializers.CharField(allow_null=True)
    severity = serializers.ChoiceField(choices=Severity.choices)
    ip_address = serializers.IPAddressField(allow_null=True)
    user_agent = serializers.CharField(allow_null=True)
    message = serializers.CharField(allow_null=True)
    before = serializers.JSONField(allow_null=True)
    after = serializers.JSONField(allow_null=True)
    metadata = serializers.JSONField(allow_null=True)
    request_id = serializers.CharField(allow_null=True)


def _optional_text(max_length: int, help_text: str = "") -> serializers.CharField:
    return serializers.CharField(
        required=False,
        allow_null=True,
        allow_blank=True,
        max_length=max_length,
        help_text=help_text,
    )


class EventCreateSerializer(serializers.Serializer):
    """An event to store. Unknown fields are refused; strings refuse control characters."""

    id = serializers.UUIDField(
        required=False, help_text="Client-chosen id: makes the write idempotent per tenant."
    )
    tenant_id = serializers.CharField(
        required=False,
        help_text="The tenant; may be omitted when the caller belongs to exactly one.",
    )
    timestamp = serializers.DateTimeField(
        required=False,
        help_text="With an offset; at most 5 minutes in the future. Default: time received.",
    )
    user_id = serializers.CharField(min_length=1, max_length=255, help_text="The actor.")
    session_id = _optional_text(255)
    action = serializers.RegexField(
        r"^[A-Za-z][A-Za-z0-9_]{0,63}$",
        help_text="Case-insensitive, stored upper case: CREATE, VIEW, LOGIN, ...",
    )
    resource_type = serializers.CharField(min_length=1, max_length=128)
    resource_id = _optional_text(255)
    severity = serializers.ChoiceField(choices=Severity.choices, required=False, default="INFO")
    ip_address = serializers.IPAddressField(required=False, allow_null=True)
    user_agent = _optional_text(1024)
    message = _optional_text(8192, "Tab and newline are allowed here.")
    before = serializers.DictField(required=False, allow_null=True, help_text="At most 64 KiB.")
    after = serializers.DictField(required=False, allow_null=True, help_text="At most 64 KiB.")
    metadata = serializers.DictField(required=False, allow_null=True, help_text="At most 64 KiB.")
    request_id = _optional_text(128, "Correlation id.")


class BulkCreateSerializer(serializers.Serializer):
    tenant_id = serializers.CharField(required=False, help_text="Default tenant for the items.")
    events = EventCreateSerializer(many=True, help_text="1 to BULK_MAX_EVENTS (1000) events.")


class BulkResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    duplicates = serializers.IntegerField(help_text="Ids already stored with the same content.")
    ids = serializers.ListField(child=serializers.UUIDField(), help_text="In request order.")


class EventPageSerializer(serializers.Serializer):
    results = EventSerializer(many=True)
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
