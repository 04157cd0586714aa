"""The vocabulary of alert rules."""

from django.db import models


class ConditionType(models.TextChoices):
    ANY = "any", "Any matching event"
    THRESHOLD = "threshold", "At least `count` matching events within `window_seconds`"


class GroupBy(models.TextChoices):
    USER_ID = "user_id", "Per actor"
    IP_ADDRESS = "ip_address", "Per client address"
