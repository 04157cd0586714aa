"""JSON shapes of the integrity endpoints (output only; for the schema)."""

from __future__ import annotations

from rest_framework import serializers

from ..models import SigningKey


class CheckpointSerializer(serializers.Serializer):
    tenant_id = serializers.CharField()
    tree_size = serializers.IntegerField()
    # The metaclass moves declared fields off the class, so DRF's `root` property stays.
    root = serializers.CharField(help_text="RFC 9162 tree head, hex SHA-256.")  # type: ignore[assignment]
    timestamp = serializers.CharField(help_text="UTC, YYYY-MM-DDTHH:MM:SS.ffffffZ.")
    previous = serializers.CharField(
        help_text="Hex SHA-256 of the previous checkpoint's signed body; empty for the first."
    )
    key_id = serializers.CharField()
    signature = serializers.CharField(help_text="Ed25519, base64, over the signed body.")


class ProofSerializer(serializers.Serializer):
    leaf_index = serializers.IntegerField()
    tree_size = serializers.IntegerField()
    record = serializers.CharField(
        help_text="The event's canonical record as stored (docs/integrity.md); its leaf "
        "hash is SHA-256(0x00 || UTF-8 record)."
    )
    path = serializers.ListField(child=serializers.CharField(), help_text="Hex hashes.")
    checkpoint = CheckpointSerializer()


class CheckpointPageSerializer(serializers.Serializer):
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)
    results = CheckpointSerializer(many=True)


class ConsistencySerializer(serializers.Serializer):
    first = CheckpointSerializer()
    second = CheckpointSerializer()
    path = serializers.ListField(child=serializers.CharField(), help_text="Hex hashes.")


class SigningKeySerializer(serializers.ModelSerializer):
    class Meta:
        model = SigningKey
        fields = ["key_id", "algorithm", "public_key", "created_at", "retired_at"]


class KeysSerializer(serializers.Serializer):
    keys = SigningKeySerializer(many=True)
