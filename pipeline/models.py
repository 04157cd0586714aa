"""The event pipeline's durable state in PostgreSQL.

`pipeline_batch` (the announcement log) is written in hand-written SQL by the
ingest and delete statements (logs/services.py), in the same statement as the
events, so a committed write always has its batch row; `Batch` describes it
to the ORM (reads, and the test runner's flush). Each consumer keeps its watermark in
`ConsumerState`, and batches a consumer failed on are counted in
`BatchFailure` (dead after PIPELINE_MAX_ATTEMPTS). See docs/adr/0014.
"""

from django.contrib.postgres.fields import ArrayField
from django.db import models


class Batch(models.Model):
    """One committed write: the new events of a request, or a retention deletion.

    `xid` is the writing transaction's id (`pg_current_xact_id()`, a column
    default, not mapped here); consumers select batches by it against their
    watermark snapshot, never by `id` or time (pipeline/watermark.py).
    """

    id = models.BigIntegerField(primary_key=True)
    tenant_id = models.CharField(max_length=63)
    kind = models.CharField(max_length=6)  # "insert" | "delete"
    created_at = models.DateTimeField()
    events = models.IntegerField()
    ids = ArrayField(models.UUIDField(), null=True)
    timestamps = ArrayField(models.DateTimeField(), null=True)
    before = models.DateTimeField(null=True)

    class Meta:
        db_table = "pipeline_batch"  # created by the migration's SQL

    def __str__(self) -> str:
        return f"{self.kind}:{self.tenant_id}:{self.id}"


class ConsumerState(models.Model):
    """A consumer's durable watermark: a PostgreSQL snapshot, as text.

    Every batch whose transaction is visible in `watermark` has been handled;
    every other batch has not (or is handled again, idempotently).
    """

    name = models.CharField(max_length=64, primary_key=True)
    watermark = models.TextField()
    updated_at = models.DateTimeField(auto_now=True)
    batches_done = models.BigIntegerField(default=0)
    events_done = models.BigIntegerField(default=0)
    batches_dead = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return self.name


class BatchFailure(models.Model):
    """A batch a consumer failed to handle: attempts so far, the last error, and
    `dead_at` once it was sent to the dead-letter queue and passed."""

    consumer = models.CharField(max_length=64)
    batch_id = models.BigIntegerField()
    tenant_id = models.CharField(max_length=63)
    attempts = models.IntegerField(default=0)
    last_error = models.TextField(default="")
    first_failed_at = models.DateTimeField(auto_now_add=True)
    dead_at = models.DateTimeField(null=True)
    redriven_at = models.DateTimeField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["consumer", "batch_id"], name="pipeline_failure_once")
        ]

    def __str__(self) -> str:
        return f"{self.consumer}:{self.batch_id}"
