"""Choices of the archival app."""

from django.db import models


class ArchiveState(models.TextChoices):
    # A worker is writing, uploading or verifying the day (it holds the day's lock).
    RUNNING = "running", "Running"
    # Uploaded, read back, count and SHA-256 checked: retention may delete the rows.
    VERIFIED = "verified", "Verified"
    # The last attempt failed (`error` says why); the next call redoes the day.
    FAILED = "failed", "Failed"
