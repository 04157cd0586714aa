"""Background jobs a tenant can watch (`GET /api/v1/jobs/{id}`), and their steps.

A `Job` is what a caller started (a cleanup) or the schedule started (the daily
retention run) for one tenant. Its work is cut into `JobStep`s, one per tenant and
UTC day, each sent as one SQS message. Workers claim a step with a conditional
UPDATE (jobs/services.py), heartbeat while they work, record progress in the
same transaction as the work it counts, and resume from the step's `phase`: a
step received twice, or re-sent after its worker died, neither loses nor repeats
anything.
"""

from __future__ import annotations

import uuid

from django.db import models

from tenants.models import Tenant

from .choices import JobKind, JobState, StepPhase


class Claimable(models.Model):
    """Who works on the row (worker name), since when, and their last sign of life."""

    state = models.CharField(max_length=16, choices=JobState.choices, default=JobState.QUEUED)
    claimed_by = models.CharField(max_length=200, null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True


class Job(Claimable):
    """One tenant's cleanup or retention run; `done`/`total` count events deleted."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=16, choices=JobKind.choices)
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+")
    params = models.JSONField(default=dict)  # before, archive, requested_by
    done = models.BigIntegerField(default=0)
    total = models.BigIntegerField(default=0)
    result = models.JSONField(default=dict)
    # The schedule's run of a tenant and cutoff day exists once, however often
    # beat fires: "retention:<tenant>:<day>". Null for requested cleanups.
    dedupe_key = models.CharField(max_length=200, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "-created_at"], name="jobs_job_tenant_created")]

    def __str__(self) -> str:
        return f"{self.kind}:{self.tenant_id}:{self.id}"


class JobStep(Claimable):
    """One tenant and UTC day of a job: archive (per the policy), verify, delete."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="steps")
    tenant_id = models.CharField(max_length=63)
    day = models.DateField()
    phase = models.CharField(max_length=16, choices=StepPhase.choices, default=StepPhase.ARCHIVE)
    archived = models.BigIntegerField(default=0)  # events in the verified archive of the day
    deleted = models.BigIntegerField(default=0)  # events this step deleted
    verified_at = models.DateTimeField(null=True, blank=True)
    archive = models.JSONField(default=dict)  # what the archive reported (keys, counts)

    class Meta:
        ordering = ["job_id", "day"]
        constraints = [models.UniqueConstraint(fields=["job", "day"], name="jobs_step_job_day")]
        indexes = [
            # The sweep of stale and never-sent steps reads unfinished ones only.
            models.Index(
                fields=["state", "heartbeat_at"],
                name="jobs_step_unfinished",
                condition=models.Q(state__in=["queued", "running"]),
            )
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id}:{self.day}:{self.phase}"
