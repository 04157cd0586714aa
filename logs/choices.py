"""The vocabularies of an event's fields, shared by validation, filters and the stream."""

import re

from django.db import models

# An action: upper case after normalisation (input is case-insensitive).
ACTION_RE = re.compile(r"[A-Z][A-Z0-9_]{0,63}")
# NUL, C0 and C1 controls, DEL, and lone surrogates (not encodable as UTF-8).
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


class Severity(models.TextChoices):
    INFO = "INFO", "Info"
    WARNING = "WARNING", "Warning"
    ERROR = "ERROR", "Error"
    CRITICAL = "CRITICAL", "Critical"


class Category(models.TextChoices):
    """Who wrote an event: clients (`application`) or the service itself (logs/audit.py)."""

    APPLICATION = "application", "Application"
    ACCESS = "access", "Access"  # reads of the logs
    ADMIN = "admin", "Admin"  # changes to tenants, members, users, policies, retention
