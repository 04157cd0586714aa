"""Audit events and their idempotency keys.

The events table is created by hand-written SQL in the migrations (Django cannot
declare a partitioned table); these models describe it to the ORM. See
logs/migrations/0001_initial.py and docs for the full DDL.
"""

from django.db import models
from django.db.models.functions import Now

from tenants.models import Tenant

from .choices import Category, Severity


class Event(models.Model):
    """One audit event: append-only, tenant-owned, protected by row-level security.

    Storage guarantees (enforced in PostgreSQL, not only here):
    - `logs_event` is range-partitioned by `timestamp`: one partition per UTC day
      from a floor day on, and one history partition below it; no DEFAULT. Every
      day an event may be dated has its partition before any request needs it
      (logs/partitions.py, ADR 0008): a request never creates one. With
      TimescaleDB present at migration time it is a hypertable with daily
      chunks instead.
    - The primary key is (tenant_id, id, timestamp): a unique constraint on a
      partitioned table must contain the partition key. Uniqueness of (tenant_id,
      id) alone, which idempotent writes need, is kept by `EventKey`.
    - Row-level security (ENABLE + FORCE) on the table and on every partition:
      rows are visible and writable only when `tenant_id` equals the transaction's
      `app.tenant_id` (set by tenants.scoping.activate).
    - A stored generated column `search_vector` (not mapped here, so it is never
      selected by accident) feeds a GIN index for the `q` full-text filter.
    """

    actor_field = "user_id"  # the `user` role sees only its own events

    pk = models.CompositePrimaryKey("tenant", "id", "timestamp")
    # The fields below, in this order, are THE definition of an event's columns:
    # logs/fields.py derives the insert statement, the stored-row shape, the
    # list/get selection, the API shapes and the export columns from them.
    # Adding a field: declare it here, write its migration, add its validation
    # rule (logs.validation.RULES).
    id = models.UUIDField()
    tenant = models.ForeignKey(Tenant, on_delete=models.DO_NOTHING, related_name="+")
    timestamp = models.DateTimeField()
    received_at = models.DateTimeField(db_default=Now())
    user_id = models.CharField(max_length=255)
    session_id = models.CharField(max_length=255, null=True)
    action = models.CharField(max_length=64)
    resource_type = models.CharField(max_length=128)
    resource_id = models.CharField(max_length=255, null=True)
    severity = models.CharField(max_length=8, choices=Severity.choices, default=Severity.INFO)
    ip_address = models.GenericIPAddressField(null=True)
    user_agent = models.CharField(max_length=1024, null=True)
    message = models.TextField(null=True)
    before = models.JSONField(null=True)
    after = models.JSONField(null=True)
    metadata = models.JSONField(null=True)
    request_id = models.CharField(max_length=128, null=True)
    # Server-set: clients may send only "application"; the service writes the
    # `access` and `admin` events of its own audit trail (logs/audit.py).
    category = models.CharField(
        max_length=16, choices=Category.choices, db_default=Category.APPLICATION
    )
    # Server-set per event (editable=False: clients may not send it): the JSON
    # paths masked at ingest (masking.engine), e.g. ["metadata.password"].
    masked = models.JSONField(default=list, editable=False)

    class Meta:
        db_table = "logs_event"
        indexes = [
            # Tenant first everywhere: every query is scoped to one tenant.
            models.Index(fields=["tenant", "-timestamp", "-id"], name="logs_event_tenant_time"),
            models.Index(fields=["tenant", "user_id", "-timestamp"], name="logs_event_tenant_user"),
            models.Index(
                fields=["tenant", "action", "-timestamp"], name="logs_event_tenant_action"
            ),
            models.Index(
                fields=["tenant", "resource_type", "resource_id", "-timestamp"],
                name="logs_event_tenant_resource",
            ),
            models.Index(
                fields=["tenant", "request_id"],
                name="logs_event_tenant_request",
                condition=models.Q(request_id__isnull=False),
            ),
            # The correlation timeline by session (GET /api/v1/logs/correlation).
            models.Index(
                fields=["tenant", "session_id", "timestamp", "id"],
                name="logs_event_tenant_session",
                condition=models.Q(session_id__isnull=False),
            ),
            # Most events are INFO: an index of the rest stays small, and the planner
            # proves `severity IN ('ERROR', ...)` implies the predicate.
            models.Index(
                fields=["tenant", "severity", "-timestamp"],
                name="logs_event_tenant_severity",
                condition=~models.Q(severity=Severity.INFO),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id}:{self.id}"


class EventKey(models.Model):
    """The idempotency key of an event: (tenant_id, id) is unique across all time.

    Why a separate table: the events table is partitioned by time, so it cannot
    carry a unique constraint on (tenant_id, id). Each event has exactly one key,
    written in the same transaction; `INSERT ... ON CONFLICT DO NOTHING` on this
    table decides atomically, even between concurrent requests, whether an event
    is new. The key stores the event's timestamp (to find it with partition
    pruning) and a hash of its content (to tell a retry, answered 200, from a
    different event reusing the id, answered 409). Whoever deletes events
    (retention) deletes their keys in the same transaction: `services.events_delete`.
    Row-level security as on the events table.
    """

    pk = models.CompositePrimaryKey("tenant_id", "id")
    tenant_id = models.CharField(max_length=63)
    id = models.UUIDField()
    timestamp = models.DateTimeField()
    content_hash = models.BinaryField(max_length=16)

    class Meta:
        db_table = "logs_event_key"

    def __str__(self) -> str:
        return f"{self.tenant_id}:{self.id}"


class EventRollup(models.Model):
    """Exact event counts per UTC hour and per UTC day, one dimension at a time.

    The hand-made continuous aggregate behind `GET /logs/stats` (logs/rollup.py
    keeps it, logs/stats.py reads it). A row counts the tenant's events of one
    period (`granularity` "hour" or "day", `period` its UTC start) by one
    `dimension`: "total" (hours only, `key` empty), "action", "severity",
    "resource_type" or "user_id" (`key` is the value).

    Guarantees (with `EventRollupDirty`): for an hour with no dirty mark, its
    hour rows equal a GROUP BY over the raw events of that hour; for a day with
    no dirty hour, its day rows are the sums of its hour rows. Readers take the
    rollup only for clean hours and days and read raw events for the rest, in
    one statement (one snapshot), so stats stay exact. Row-level security
    (ENABLE + FORCE) as on the events table.
    """

    pk = models.CompositePrimaryKey("tenant_id", "granularity", "period", "dimension", "key")
    tenant_id = models.CharField(max_length=63)
    granularity = models.CharField(max_length=4)  # "hour" | "day"
    dimension = models.CharField(max_length=16)
    period = models.DateTimeField()
    key = models.CharField(max_length=255)
    n = models.BigIntegerField()

    class Meta:
        db_table = "logs_event_rollup"
        indexes = [
            # The timeline reads one total per hour; without this it would walk
            # every hour row of the window (the primary key is by period first).
            models.Index(
                fields=["tenant_id", "period"],
                include=["n"],
                name="logs_event_rollup_totals",
                condition=models.Q(granularity="hour", dimension="total"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id}:{self.granularity}:{self.period:%Y-%m-%dT%H}:{self.dimension}"


class EventRollupDirty(models.Model):
    """A (tenant, UTC hour) whose events changed since its rollup rows were computed.

    Written in the same statement as the events it covers (ingest, deletion)
    by the SQL function `auditlog_stats_mark`, so a committed change always has
    its mark; the refresh task deletes marks and recomputes their hours in one
    transaction. One row per hour: writers lock an existing mark FOR KEY SHARE
    (they do not block each other), which makes the refresh wait for
    in-flight writers before it recomputes. Row-level security is ENABLEd (the
    application role sees its tenant's marks only) but not FORCEd: the table
    holds no event data, and the owner-run `auditlog_stats_dirty_tenants()` must
    list which tenants have work.
    """

    pk = models.CompositePrimaryKey("tenant_id", "hour")
    tenant_id = models.CharField(max_length=63)
    hour = models.DateTimeField()
    marked_at = models.DateTimeField()

    class Meta:
        db_table = "logs_event_rollup_dirty"

    def __str__(self) -> str:
        return f"{self.tenant_id}:{self.hour:%Y-%m-%dT%H}"
