"""JSON shapes of the archive endpoints (output only)."""

from __future__ import annotations

from rest_framework import serializers
from rest_framework.reverse import reverse

from ..models import ArchivedDay


class PartSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="S3 key; starts with tenants/<tenant>/.")
    rows = serializers.IntegerField()
    bytes = serializers.IntegerField()
    sha256 = serializers.CharField(help_text="SHA-256 of the object, hex.")


class ArchivedDaySerializer(serializers.ModelSerializer):
    tenant_id = serializers.CharField(read_only=True)
    parts = PartSerializer(many=True, read_only=True)
    download_url = serializers.SerializerMethodField(
        help_text="The endpoint handing out presigned links (verified days only)."
    )

    class Meta:
        model = ArchivedDay
        fields = [
            "tenant_id",
            "day",
            "state",
            "row_count",
            "bytes",
            "first_timestamp",
            "last_timestamp",
            "parts",
            "manifest_key",
            "manifest_sha256",
            "schema_version",
            "attempts",
            "error",
            "started_at",
            "verified_at",
            "download_url",
        ]
        read_only_fields = fields

    def get_download_url(self, record: ArchivedDay) -> str | None:
        if record.state != "verified":
            return None
        path = reverse("archive-download", kwargs={"day": record.day.isoformat()})
        request = self.context["request"]
        return request.build_absolute_uri(f"{path}?tenant_id={record.tenant_id}")


class ArchivePageSerializer(serializers.Serializer):
    results = ArchivedDaySerializer(many=True)
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)


class LinkedPartSerializer(PartSerializer):
    url = serializers.URLField(help_text="Presigned GET URL; expires at expires_at.")


class LinkedManifestSerializer(serializers.Serializer):
    key = serializers.CharField()
    sha256 = serializers.CharField()
    url = serializers.URLField()


class DownloadSerializer(serializers.Serializer):
    day = serializers.DateField()
    expires_in = serializers.IntegerField(help_text="Seconds the links stay valid.")
    expires_at = serializers.DateTimeField()
    manifest = LinkedManifestSerializer()
    parts = LinkedPartSerializer(many=True)
