from __future__ import annotations

from rest_framework import serializers

from auditlog_project.validation import StrictSerializerMixin

from ..choices import Role
from ..models import TENANT_ID_PATTERN, Tenant


class TenantSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tenant
        fields = ["id", "name", "retention_days", "is_active", "created_at"]
        read_only_fields = fields


class TenantCreateSerializer(StrictSerializerMixin, serializers.Serializer):
    id = serializers.RegexField(
        TENANT_ID_PATTERN, help_text="Lowercase slug, chosen once: ^[a-z0-9][a-z0-9-]{1,62}$"
    )
    name = serializers.CharField(max_length=200)
    retention_days = serializers.IntegerField(min_value=1, max_value=36500, default=90)


class TenantUpdateSerializer(StrictSerializerMixin, serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    retention_days = serializers.IntegerField(min_value=1, max_value=36500, required=False)
    is_active = serializers.BooleanField(required=False, help_text="Platform administrators only.")


class MemberSerializer(serializers.Serializer):
    username = serializers.CharField(source="user.username")
    role = serializers.ChoiceField(choices=Role.choices)


class MemberUpsertSerializer(StrictSerializerMixin, serializers.Serializer):
    username = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=Role.choices)
