from __future__ import annotations

from rest_framework import serializers

from auditlog_project.validation import StrictSerializerMixin

from ..choices import Role
from ..models import TENANT_ID_PATTERN, Tenant

RETENTION_HELP = (
    "Days events are kept; within the platform's bounds RETENTION_MIN_DAYS..RETENTION_MAX_DAYS "
    "(default 1..36500), else 400."
)
ARCHIVE_HELP = "Archive expired events to cold storage (verified) before deleting them."


class TenantSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tenant
        fields = [
            "id",
            "name",
            "retention_days",
            "archive_before_delete",
            "is_active",
            "created_at",
        ]
        read_only_fields = fields


class TenantCreateSerializer(StrictSerializerMixin, serializers.Serializer):
    id = serializers.RegexField(
        TENANT_ID_PATTERN, help_text="Lowercase slug, chosen once: ^[a-z0-9][a-z0-9-]{1,62}$"
    )
    name = serializers.CharField(max_length=200)
    retention_days = serializers.IntegerField(default=90, help_text=RETENTION_HELP)
    archive_before_delete = serializers.BooleanField(default=True, help_text=ARCHIVE_HELP)


class TenantUpdateSerializer(StrictSerializerMixin, serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    retention_days = serializers.IntegerField(required=False, help_text=RETENTION_HELP)
    archive_before_delete = serializers.BooleanField(required=False, help_text=ARCHIVE_HELP)
    is_active = serializers.BooleanField(required=False, help_text="Platform administrators only.")


class MemberSerializer(serializers.Serializer):
    username = serializers.CharField(source="user.username")
    role = serializers.ChoiceField(choices=Role.choices)


class MemberUpsertSerializer(StrictSerializerMixin, serializers.Serializer):
    username = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=Role.choices)
