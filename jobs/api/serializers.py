from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..models import Job


class ProgressSerializer(serializers.Serializer):
    done = serializers.IntegerField(help_text="Events deleted so far.")
    total = serializers.IntegerField(help_text="Events the job found to process.")


class JobSerializer(serializers.ModelSerializer):
    """The job resource of api.md ("Additions": jobs)."""

    tenant_id = serializers.CharField()
    progress = serializers.SerializerMethodField()
    status_url = serializers.SerializerMethodField()

    class Meta:
        model = Job
        fields = [
            "id",
            "kind",
            "tenant_id",
            "state",
            "progress",
            "result",
            "error",
            "created_at",
            "finished_at",
            "status_url",
        ]
        read_only_fields = fields

    @extend_schema_field(ProgressSerializer)
    def get_progress(self, job: Job) -> dict:
        return ProgressSerializer({"done": job.done, "total": job.total}).data

    def get_status_url(self, job: Job) -> str:
        return reverse("job-detail", args=[job.pk])
