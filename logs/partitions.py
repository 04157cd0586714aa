"""Daily partitions of the events table, ready before any event that needs them.

Guarantees (docs/adr/0008-partitions-ahead-never-in-a-request.md):
- No request ever creates a partition. Every day an event may be dated (the
  accepted window, logs/validation/checks.py) already has one: days from the floor on
  get daily partitions ahead of time, older days share the history partition
  (migration 0003). Ingest needs no DDL and no extra round trip.
- Partitions are created here only: by the hourly beat task and after every
  `migrate`. Each day is created in its own short transaction, on a
  connection of its own (never the caller's transaction), with `lock_timeout`;
  a day whose locks are not granted in time is retried a few times, then left
  to the next run (the window ahead is days long).
- Creating a partition locks nothing that readers or writers of events take:
  there is no DEFAULT partition to lock or scan, and attaching takes SHARE
  UPDATE EXCLUSIVE on `logs_event` (see the SQL function in migration 0003).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

import psycopg
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connections
from psycopg import errors

from auditlog_project.errors import Unavailable

logger = logging.getLogger(__name__)

ATTEMPTS = 5  # per day and run; the backoff between them doubles from 0.1 s
MISSING_SQL = """
    SELECT d::date FROM generate_series(%s::date, %s::date, interval '1 day') AS d
    WHERE auditlog_partition_floor() IS NOT NULL AND d >= auditlog_partition_floor()
      AND to_regclass('public.logs_event_p' || to_char(d, 'YYYYMMDD')) IS NULL
    ORDER BY 1
"""


class PartitionMissing(Unavailable):
    """An accepted event's day has no partition: beat and `migrate` have not run for
    EVENTS_PARTITIONS_AHEAD days. Nothing is stored; the client retries later."""

    def __init__(self) -> None:
        super().__init__(
            "Storage for this event's day is not ready yet; retry later.",
            code="storage-not-ready",
            retry_after=60,  # beat runs hourly; an operator may run `migrate` at once
        )


@contextmanager
def missing_partition_is_unavailable() -> Iterator[None]:
    """Turn PostgreSQL's "no partition of relation ... found for row" into PartitionMissing.

    Costs nothing on the hot path: the insert itself finds out, and the
    request's transaction is rolled back as for any error.
    """
    try:
        yield
    except IntegrityError as exc:
        cause = exc.__cause__
        if isinstance(cause, errors.CheckViolation) and "no partition of relation" in str(cause):
            logger.error("no partition for an accepted event (is beat running?): %s", cause)
            raise PartitionMissing() from exc
        raise


def partitions_after_migrate(sender, using: str = DEFAULT_DB_ALIAS, **kwargs) -> None:
    """post_migrate: every `migrate` (deploys, `make run`) leaves the window partitioned.

    So a service stopped for longer than EVENTS_PARTITIONS_AHEAD days accepts
    today's events as soon as it is migrated, before beat's first run. Does
    nothing while logs is migrated below 0003 (no partition floor yet).
    """
    if using != DEFAULT_DB_ALIAS:
        return
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT to_regprocedure('public.auditlog_partition_floor()') IS NOT NULL")
        row = cursor.fetchone()
    if row and row[0]:
        partitions_create_ahead(
            ahead=settings.EVENTS_PARTITIONS_AHEAD, max_age_days=settings.EVENTS_MAX_AGE_DAYS
        )


def partitions_create_ahead(*, ahead: int, max_age_days: int) -> int:
    """Create the missing daily partitions of the accepted window; the number created.

    The window is today minus accepted_days() (days below the floor belong to
    history) through today plus `ahead`, in UTC days. Idempotent: a second run
    creates nothing. Days whose locks stay busy through every attempt are
    logged and left to the next run.
    """
    today = datetime.now(UTC).date()
    created, skipped = 0, []
    with own_connection() as conn:
        window = accepted_days(conn, max_age_days)
        missing = [
            row[0]
            for row in conn.execute(
                MISSING_SQL, [today - timedelta(days=window), today + timedelta(days=ahead)]
            )
        ]
        for day in missing:
            made = _create_with_retries(conn, day)
            if made is None:
                skipped.append(day)
            else:
                created += made
    if skipped:
        logger.warning("partitions not created (locks busy), left to the next run: %s", skipped)
    return created


def accepted_days(conn: psycopg.Connection, max_age_days: int) -> int:
    """How many days back any tenant's ingest accepts events: the longest
    retention of any tenant, capped by `max_age_days` (logs/validation/checks.py
    caps each tenant the same way). Days older than this get no partition here,
    so the days retention dropped (archival/retention/dropping.py) stay dropped."""
    row = conn.execute(
        "SELECT least(%s, coalesce(max(retention_days), %s)) FROM tenants_tenant",
        [max_age_days, max_age_days],
    ).fetchone()
    return int(row[0]) if row else max_age_days


def partitions_ensure(days: Iterable[date]) -> int:
    """Make sure each day has its partition (for rows written into past days:
    an archive restore); the number created. Days below the floor need none
    (the history partition holds them). Raises PartitionMissing when a day's
    locks are never granted."""
    created = 0
    with own_connection() as conn:
        for day in days:
            made = _create_with_retries(conn, day)
            if made is None:
                raise PartitionMissing()
            created += made
    return created


def partition_create(conn: psycopg.Connection, day: date) -> int:
    """One day's partition in one short transaction; 1 if created, 0 if it existed.

    Raises LockNotAvailable when a lock is not granted within
    EVENTS_PARTITION_LOCK_TIMEOUT_MS; nothing is left behind then.
    """
    with conn.transaction():
        conn.execute(
            "SELECT set_config('lock_timeout', %s, true)",
            [f"{settings.EVENTS_PARTITION_LOCK_TIMEOUT_MS}ms"],
        )
        row = conn.execute("SELECT auditlog_ensure_partitions(%s, %s)", [day, day]).fetchone()
    return int(row[0]) if row else 0


def _create_with_retries(conn: psycopg.Connection, day: date) -> int | None:
    """partition_create, retried on lock timeouts with jittered backoff; None if never granted."""
    for attempt in range(ATTEMPTS):
        try:
            return partition_create(conn, day)
        except errors.LockNotAvailable:
            if attempt + 1 < ATTEMPTS:
                time.sleep(0.1 * 2**attempt * random.uniform(0.5, 1.5))  # noqa: S311
    return None


@contextmanager
def own_connection() -> Iterator[psycopg.Connection]:
    """A fresh connection to the default database in autocommit, closed afterwards.

    Never the connection of the caller, so partition DDL can never join a
    request's (or any caller's) transaction and hold its locks until that commits.
    """
    wrapper = connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        wrapper.ensure_connection()
        wrapper.set_autocommit(True)
        yield wrapper.connection
    finally:
        wrapper.close()
