from __future__ import annotations

from rest_framework import serializers

from auditlog_project.validation import StrictSerializerMixin

from ..policy import ENCRYPTABLE


class EncryptionKeySerializer(serializers.Serializer):
    version = serializers.IntegerField()
    state = serializers.ChoiceField(
        choices=["current", "previous", "shredded"],
        help_text="current encrypts new events; previous only decrypts; shredded is destroyed.",
    )
    created_at = serializers.DateTimeField()
    shredded_at = serializers.DateTimeField(allow_null=True)


class EncryptionSettingsSerializer(serializers.Serializer):
    encrypted_fields = serializers.ListField(
        child=serializers.CharField(),
        help_text="Event fields encrypted at rest in new events (before and after always).",
    )
    encryptable = serializers.ListField(child=serializers.CharField())
    not_searchable = serializers.ListField(
        child=serializers.CharField(),
        help_text="Encrypted fields the full-text filter q can no longer search.",
    )
    keys = EncryptionKeySerializer(many=True, help_text="Key versions (never key material).")


class EncryptionPolicySerializer(StrictSerializerMixin, serializers.Serializer):
    encrypted_fields = serializers.ListField(
        child=serializers.CharField(max_length=32),
        max_length=len(ENCRYPTABLE),
        help_text=f"Fields to encrypt, among {', '.join(ENCRYPTABLE)}; must include before, after.",
    )
