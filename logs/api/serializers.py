"""JSON shapes of events.

Input is validated by logs.validation (hand-written for speed) and output is
built by `event_json`; the serializers below describe the same shapes for the
OpenAPI schema and are not used per request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rest_framework import serializers

from .. import fields
from ..validation import CLIENT_CATEGORY, RULES


def _declared(make_fields: Callable[[], dict[str, serializers.Field]]):
    """Give a serializer class the fields `make_fields` derives (DRF collects
    declared fields when the class is created; these come from the model)."""

    def decorate(cls: type[serializers.Serializer]) -> type[serializers.Serializer]:
        cls._declared_fields = make_fields()
        return cls

    return decorate


_OUTPUT = {
    "UUIDField": serializers.UUIDField,
    "DateTimeField": serializers.DateTimeField,
    "GenericIPAddressField": serializers.IPAddressField,
    "JSONField": serializers.JSONField,
}


def _output_field(name: str) -> serializers.Field:
    model_field = fields.field(name)
    options: dict = {"allow_null": True} if model_field.null else {}
    if name in fields.SERVER_SET and model_field.has_db_default():
        options["help_text"] = "Set by the server."
    if name == "masked":
        return serializers.ListField(
            child=serializers.CharField(),
            help_text="Set by the server: the JSON paths masked at ingest (e.g. "
            "`metadata.password`, `before.items[0].token`, `message`). Clients may not send it.",
        )
    if model_field.choices:
        return serializers.ChoiceField(choices=model_field.choices, **options)
    return _OUTPUT.get(fields.kind(name), serializers.CharField)(**options)


def _input_field(name: str) -> serializers.Field:
    """A client-set column as its validation rule (logs.validation.RULES) accepts it."""
    rule, model_field, kind = RULES[name], fields.field(name), fields.kind(name)
    optional: dict[str, Any] = {"required": False, "allow_null": True}
    if rule.pattern:
        return serializers.RegexField(rule.pattern, help_text=rule.doc)
    if model_field.choices:
        return serializers.ChoiceField(
            choices=model_field.choices, required=False, default=rule.default
        )
    if kind == "JSONField":
        return serializers.DictField(**optional, help_text=rule.doc)
    if kind == "GenericIPAddressField":
        return serializers.IPAddressField(**optional)
    if kind in ("UUIDField", "DateTimeField"):
        return _OUTPUT[kind](required=False, help_text=rule.doc)
    if rule.required:
        return serializers.CharField(
            min_length=rule.min_length, max_length=rule.max_length, help_text=rule.doc
        )
    return serializers.CharField(
        **optional, allow_blank=True, max_length=rule.max_length, help_text=rule.doc
    )


def _event_fields() -> dict[str, serializers.Field]:
    return {name: _output_field(name) for name in fields.EVENT_FIELDS}


def _event_create_fields() -> dict[str, serializers.Field]:
    tenant = serializers.CharField(
        required=False,
        help_text="The tenant; may be omitted when the caller belongs to exactly one.",
    )
    category = serializers.ChoiceField(
        choices=[CLIENT_CATEGORY],
        required=False,
        help_text="Optional, and only `application`: `access` and `admin` events are "
        "recorded by the service itself (400 otherwise).",
    )
    declared = {
        name: tenant if name == "tenant_id" else _input_field(name)
        for name in fields.EVENT_FIELDS
        if name == "tenant_id" or name in RULES
    }
    return {**declared, "category": category}


# A stored event: every column of logs.models.Event. (No docstring: it would
# become the schema's description.)
@_declared(_event_fields)
class EventSerializer(serializers.Serializer):
    pass


@_declared(_event_create_fields)
class EventCreateSerializer(serializers.Serializer):
    """An event to store. Unknown fields are refused; strings refuse control characters."""


class BulkCreateSerializer(serializers.Serializer):
    tenant_id = serializers.CharField(required=False, help_text="Default tenant for the items.")
    events = EventCreateSerializer(many=True, help_text="1 to BULK_MAX_EVENTS (1000) events.")


class BulkResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    duplicates = serializers.IntegerField(help_text="Ids already stored with the same content.")
    ids = serializers.ListField(child=serializers.UUIDField(), help_text="In request order.")


class CorrelationSerializer(serializers.Serializer):
    field = serializers.ChoiceField(choices=["request_id", "session_id"])
    value = serializers.CharField()
    events = EventSerializer(many=True, help_text="Oldest first.")
    first = serializers.DateTimeField(
        allow_null=True, help_text="The first listed event's timestamp."
    )
    last = serializers.DateTimeField(
        allow_null=True, help_text="The last listed event's timestamp."
    )
    actors = serializers.ListField(
        child=serializers.CharField(),
        help_text="The listed events' distinct user_id values, sorted.",
    )
    truncated = serializers.BooleanField(
        help_text="More than CORRELATION_MAX_EVENTS matched: only the oldest are listed."
    )


class EventPageSerializer(serializers.Serializer):
    results = EventSerializer(many=True)
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
