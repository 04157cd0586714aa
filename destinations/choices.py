from django.db import models


class State(models.TextChoices):
    ACTIVE = "active", "active"  # delivering (or waiting for its next retry)
    PARKED = "parked", "parked"  # stopped: too many failures, or paused by an admin


class Kind(models.TextChoices):
    WEBHOOK = "webhook", "HTTPS webhook"  # the one transport so far (transport.py)
