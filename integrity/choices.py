"""Names of the integrity app's findings and audit actions."""

from __future__ import annotations

from django.db import models


class Finding(models.TextChoices):
    """What `verify` can find wrong (integrity/verification.py)."""

    EDITED = "edited", "An event differs from its sealed record"
    DELETED = "deleted", "A sealed event is missing"
    INSERTED = "inserted", "An event was never sealed"
    LEAF = "leaf", "A leaf is out of order or its checkpoint's root does not match"
    CHECKPOINT = "checkpoint", "A checkpoint's signature, chain or archived copy is wrong"
    ARCHIVE = "archive", "An archived object differs from what was written"


# The admin event recorded in the tenant's own log when verification fails.
FAILURE_ACTION = "INTEGRITY_FAILURE"
