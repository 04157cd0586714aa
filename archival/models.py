"""Archived days: which tenant's events of which UTC day sit in cold storage.

The objects themselves live in S3 (settings.ARCHIVE_BUCKET), one object set
per tenant and day under `tenants/<tenant>/events/<yyyy>/<mm>/<dd>/`: Parquet
parts and a manifest (archival/storage.py). This table is the index of what
was written and verified; the manifests in S3 are enough to restore without it.
Row-level security (ENABLE + FORCE) as on the events table: a row is visible
only in a transaction whose `app.tenant_id` is its tenant.
"""

from django.db import models

from tenants.models import Tenant

from .choices import ArchiveState


class ArchivedDay(models.Model):
    """One tenant's events of one UTC day, archived (or being archived).

    `state` is VERIFIED only after every object was read back from S3 and its
    row count and SHA-256 matched what was written: only then may retention
    delete the day's rows. `parts` lists the objects as
    `[{"key", "rows", "bytes", "sha256"}]`, in order.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.DO_NOTHING, related_name="+")
    day = models.DateField()
    state = models.CharField(max_length=16, choices=ArchiveState.choices)
    row_count = models.BigIntegerField(default=0)
    bytes = models.BigIntegerField(default=0)  # the parts' sizes, manifest excluded
    first_timestamp = models.DateTimeField(null=True)
    last_timestamp = models.DateTimeField(null=True)
    parts = models.JSONField(default=list)
    manifest_key = models.CharField(max_length=512, default="")
    manifest_sha256 = models.CharField(max_length=64, default="")
    schema_version = models.PositiveSmallIntegerField(default=1)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(default="")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True)
    verified_at = models.DateTimeField(null=True)

    class Meta:
        db_table = "archival_archived_day"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "day"], name="archived_day_unique")
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id}:{self.day}:{self.state}"
