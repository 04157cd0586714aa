"""Log streams: a tenant's outside destinations and what each still has to receive.

A `Destination` carries its own durable cursor: `last_seq` numbers the queue
items written for it (under its row lock, so items commit in `seq` order) and
`cursor` is the last `seq` delivered. A `QueueItem` names the events of one
pipeline batch (or one chunk of a replay) in delivery order; items at or below
the cursor are delivered and pruned later. The unique (destination, batch_id)
keeps a pipeline batch handed twice from being queued twice.
"""

from __future__ import annotations

import uuid

from django.contrib.postgres.fields import ArrayField
from django.db import models

from .choices import Kind, State


class Destination(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE)
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.WEBHOOK)
    url = models.CharField(max_length=2000)
    secret = models.TextField()  # sealed with the tenant's data key (secret_box.py)
    state = models.CharField(max_length=8, choices=State.choices, default=State.ACTIVE)
    parked_reason = models.CharField(max_length=200, blank=True, default="")
    last_seq = models.BigIntegerField(default=0)
    cursor = models.BigIntegerField(default=0)
    failures = models.IntegerField(default=0)  # consecutive failed attempts
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True, default="")
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    delivered_events = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=150)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="destination_unique_name")
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id}:{self.name}"


class QueueItem(models.Model):
    """Events one destination is to receive, in order: a pipeline batch or a replay chunk."""

    destination = models.ForeignKey(Destination, on_delete=models.CASCADE, related_name="items")
    seq = models.BigIntegerField()
    batch_id = models.BigIntegerField(null=True)  # None: a replay chunk
    event_ids = ArrayField(models.UUIDField())
    first_timestamp = models.DateTimeField()  # the events' time range: partition pruning
    last_timestamp = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["destination", "seq"], name="queue_item_seq"),
            models.UniqueConstraint(
                fields=["destination", "batch_id"],
                condition=models.Q(batch_id__isnull=False),
                name="queue_item_batch_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.destination_id}#{self.seq}"
