"""Dropping whole daily partitions whose rows retention would delete anyway.

Once every tenant's rows of a UTC day are past retention and archived (or the
tenant does not archive), or the chunked deletes left the day empty, the day's
partition is detached and dropped instead of being deleted row by row. The
rule is the SQL function `auditlog_drop_partition` (logs migration 0008); this
module only picks candidate days and calls it like logs/partitions.py creates
days: one day per short transaction on a connection of its own, with
`lock_timeout` EVENTS_PARTITION_LOCK_TIMEOUT_MS (the plain DETACH takes ACCESS
EXCLUSIVE on logs_event until COMMIT, so readers queue behind it for at most
that long), retried with jittered backoff, then left to the next run.
Search indexes follow through the retention hooks, once a day is dropped.
"""

from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import psycopg
from django.conf import settings
from psycopg import errors

from logs.partitions import accepted_days, own_connection

from . import hooks

logger = logging.getLogger(__name__)

ATTEMPTS = 5
CANDIDATES_SQL = """
    SELECT to_date(substr(c.relname, 13), 'YYYYMMDD') AS day
    FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'public.logs_event'::regclass AND c.relname ~ '^logs_event_p[0-9]{8}$'
      AND to_date(substr(c.relname, 13), 'YYYYMMDD') < %s
    ORDER BY 1
"""


@dataclass
class DropReport:
    """What one run did: days dropped, kept (with the reason), left busy."""

    dropped: list[date] = field(default_factory=list)
    kept: dict[date, str] = field(default_factory=dict)
    busy: list[date] = field(default_factory=list)
    rows: int = 0
    longest_lock_ms: float = 0.0  # the longest drop transaction, checks and COMMIT included
    longest_detach_ms: float = 0.0  # of which DETACH + DROP (ACCESS EXCLUSIVE on logs_event)


def partitions_drop_expired(*, max_age_days: int | None = None) -> DropReport:
    """Drop every daily partition below the accepted window that the rule allows."""
    max_age = max_age_days or settings.EVENTS_MAX_AGE_DAYS
    report = DropReport()
    with own_connection() as conn:
        first_kept = datetime.now(UTC).date() - timedelta(days=accepted_days(conn, max_age))
        days = [row[0] for row in conn.execute(CANDIDATES_SQL, [first_kept])]
        for day in days:
            _drop_with_retries(conn, day, max_age, report)
    if report.busy:
        logger.warning("partitions not dropped (locks busy), left to the next run: %s", report.busy)
    return report


def partition_drop(conn: psycopg.Connection, day: date, max_age_days: int) -> tuple[dict, float]:
    """One day in one short transaction: the function's answer and the transaction's
    milliseconds. Raises LockNotAvailable when a lock is not granted in time."""
    started = time.perf_counter()
    with conn.transaction():
        conn.execute(
            "SELECT set_config('lock_timeout', %s, true)",
            [f"{settings.EVENTS_PARTITION_LOCK_TIMEOUT_MS}ms"],
        )
        row = conn.execute("SELECT auditlog_drop_partition(%s, %s)", [day, max_age_days]).fetchone()
    answer = row[0] if row else {"outcome": "absent"}
    if isinstance(answer, str):
        answer = json.loads(answer)
    return answer, (time.perf_counter() - started) * 1000


def _drop_with_retries(conn, day: date, max_age_days: int, report: DropReport) -> None:
    for attempt in range(ATTEMPTS):
        try:
            answer, ms = partition_drop(conn, day, max_age_days)
        except errors.LockNotAvailable:
            if attempt + 1 < ATTEMPTS:
                time.sleep(0.1 * 2**attempt * random.uniform(0.5, 1.5))  # noqa: S311
            continue
        _record(day, answer, ms, report)
        return
    report.busy.append(day)


def _record(day: date, answer: dict, ms: float, report: DropReport) -> None:
    if answer["outcome"] == "kept":
        report.kept[day] = answer["reason"]
        return
    if answer["outcome"] != "dropped":
        return
    report.dropped.append(day)
    report.rows += int(answer["rows"])
    report.longest_lock_ms = max(report.longest_lock_ms, ms)
    report.longest_detach_ms = max(report.longest_detach_ms, float(answer["detach_ms"]))
    logger.info("partition of %s dropped: %s rows in %.1f ms", day, answer["rows"], ms)
    start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    for tenant_id in answer["tenants"]:
        hooks.day_deleted(tenant_id, start, start + timedelta(days=1))
