"""The vocabulary of alert rules."""

from django.db import models


class ConditionType(models.TextChoices):
    ANY = "any", "Any matching event"
    THRESHOLD = "threshold", "At least `count` matching events within `window_seconds`"


class GroupBy(models.TextChoices):
    USER_ID = "user_id", "Per actor"
    IP_ADDRESS = "ip_address", "Per client address"


class DeliveryState(models.TextChoices):
    PENDING = "pending", "Waiting to be sent (or for its next retry)"
    DELIVERED = "delivered", "Taken by the destination (a 2xx)"
    FAILED = "failed", "Given up after DESTINATIONS_MAX_ATTEMPTS failures"
