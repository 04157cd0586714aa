"""JSON shapes of the destination endpoints."""

from __future__ import annotations

from rest_framework import serializers

from auditlog_project.validation import StrictSerializerMixin

from .. import selectors
from ..choices import State
from ..models import Destination


class DestinationSerializer(serializers.ModelSerializer):
    """A destination as the API shows it: never its secret."""

    tenant_id = serializers.CharField(read_only=True)
    backlog_events = serializers.SerializerMethodField(
        help_text="Events queued and not yet delivered (replays included)."
    )
    oldest_pending_at = serializers.SerializerMethodField(
        help_text="When the oldest undelivered batch was queued (null: none)."
    )

    class Meta:
        model = Destination
        fields = [
            "id",
            "tenant_id",
            "name",
            "kind",
            "url",
            "state",
            "parked_reason",
            "failures",
            "next_attempt_at",
            "last_error",
            "last_attempt_at",
            "last_success_at",
            "delivered_events",
            "cursor",
            "backlog_events",
            "oldest_pending_at",
            "created_at",
            "created_by",
            "updated_at",
        ]
        read_only_fields = fields

    def get_backlog_events(self, destination: Destination) -> int:
        return selectors.backlog_events(destination)

    def get_oldest_pending_at(self, destination: Destination) -> str | None:
        when = selectors.oldest_pending_at(destination)
        return serializers.DateTimeField().to_representation(when) if when else None


class CreatedSerializer(DestinationSerializer):
    secret = serializers.CharField(
        read_only=True, help_text="The signing secret: shown in this answer only."
    )

    class Meta(DestinationSerializer.Meta):
        fields = [*DestinationSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class DestinationCreateSerializer(StrictSerializerMixin, serializers.Serializer):
    name = serializers.CharField(max_length=100)
    url = serializers.CharField(max_length=2000, help_text="https://... (the SSRF guard applies)")
    secret = serializers.CharField(
        required=False,
        min_length=16,
        max_length=200,
        help_text="The HMAC key; generated (and shown once) when absent.",
    )
    tenant_id = serializers.CharField(required=False, help_text="The tenant (or ?tenant_id=).")


class DestinationUpdateSerializer(StrictSerializerMixin, serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    url = serializers.CharField(max_length=2000, required=False)
    secret = serializers.CharField(required=False, min_length=16, max_length=200)
    state = serializers.ChoiceField(
        choices=State.choices,
        required=False,
        help_text="`active` un-parks (retries at once); `parked` pauses delivery.",
    )
    tenant_id = serializers.CharField(required=False)


class ReplaySerializer(StrictSerializerMixin, serializers.Serializer):
    from_ = serializers.DateTimeField(help_text="Re-deliver the tenant's events dated from here.")
    tenant_id = serializers.CharField(required=False)

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields


class ReplayResultSerializer(serializers.Serializer):
    queued_events = serializers.IntegerField()
    destination = DestinationSerializer()
