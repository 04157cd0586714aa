from django.db import models


class JobState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class JobKind(models.TextChoices):
    CLEANUP = "cleanup", "Cleanup (requested)"
    RETENTION = "retention", "Retention (scheduled)"


class StepPhase(models.TextChoices):
    """Where a step resumes: each phase is entered only once the previous one is durable."""

    ARCHIVE = "archive", "Archive and verify"
    DELETE = "delete", "Delete in chunks"
    DONE = "done", "Done"
