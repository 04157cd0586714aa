"""Reads of jobs."""

from __future__ import annotations

from uuid import UUID

from .models import Job


def job_tenant_id(job_id: UUID) -> str | None:
    """The tenant a job belongs to (to resolve the caller's access to it), or None."""
    return Job.objects.filter(pk=job_id).values_list("tenant_id", flat=True).first()


def job_by_dedupe_key(dedupe_key: str) -> Job | None:
    """The job started under `dedupe_key` (the schedule's run of a tenant and day), or None."""
    return Job.objects.filter(dedupe_key=dedupe_key).first()
