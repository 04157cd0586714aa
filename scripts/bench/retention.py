"""Retention's deletion, measured: chunked deletes against dropping a whole partition.

    python scripts/bench/retention.py --events 300000

Seeds its own database (auditlog_bench_retention: COPY of the bench's generated
events of one tenant over 30 days, daily partitions), then:

- chunked delete: the project's own `delete_range_in_chunks` (RETENTION_DELETE_CHUNK
  events per short transaction, with idempotency keys and rollup marks, as the
  application role under row-level security) on the oldest ten days;
- partition drop: DETACH and DROP of the next day's partition as the owner
  (what retention could do when every tenant's rows of a day are expired and
  archived; not wired into retention yet: docs/adr/0018-retention-jobs-on-sqs.md).

Prints events/s for each. The database is dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import seed  # noqa: E402
from data import EventFactory  # noqa: E402

DATABASE = "auditlog_bench_retention"
TENANT = "bench-retention"


def settings_env() -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": "auditlog_project.settings.test",
        "AUDITLOG_INSTANCE": "auditlog_bench",
        "SQS_ENDPOINT_URL": os.environ.get("SQS_ENDPOINT_URL", "http://127.0.0.1:9325"),
        "DATABASE_URL": f"postgres://auditlog_app@127.0.0.1:5432/{DATABASE}",
        "DATABASE_OWNER_URL": f"postgres://auditlog_owner@127.0.0.1:5432/{DATABASE}",
    }


def seed_database(events: int, env: dict) -> float:
    seed.recreate(DATABASE, "auditlog_owner")
    seed.migrate(env["DATABASE_OWNER_URL"], {**os.environ, **env}, days_behind=31)
    factory = EventFactory(seed=42, tenants=[TENANT], now=datetime.now(UTC))
    seed.create_tenants(DATABASE, factory.tenants)
    path = seed.write_copy_file(factory, events)
    try:
        seconds = seed.copy_file(DATABASE, path, connections=2)
    finally:
        path.unlink()
    seed.analyze(DATABASE)
    return seconds


def day_start(day) -> datetime:
    return datetime.combine(day, clock.min, tzinfo=UTC)


def chunked(days: list) -> tuple[int, float]:
    from archival.retention.deletion import delete_range_in_chunks

    started, deleted = time.monotonic(), 0
    for day in days:
        deleted += delete_range_in_chunks(
            TENANT, day_start(day), day_start(day) + timedelta(days=1)
        )
    return deleted, time.monotonic() - started


def partition_drop(owner_url: str, day) -> tuple[int, float]:
    name = f"logs_event_p{day:%Y%m%d}"
    with psycopg.connect(owner_url, autocommit=True) as conn:
        rows = conn.execute(
            f"SELECT reltuples::bigint FROM pg_class WHERE relname = '{name}'"
        ).fetchone()[0]
        started = time.monotonic()
        with conn.transaction():
            conn.execute("SET LOCAL lock_timeout = '1s'")
            conn.execute(f"ALTER TABLE logs_event DETACH PARTITION {name}")
        conn.execute(f"DROP TABLE {name}")
        return int(rows), time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=300_000)
    args = parser.parse_args()
    env = settings_env()
    copy_seconds = seed_database(args.events, env)
    os.environ.update(env)
    import django

    django.setup()
    from django.conf import settings

    today = datetime.now(UTC).date()
    oldest = [today - timedelta(days=29 - n) for n in range(10)]
    try:
        deleted, seconds = chunked(oldest)
        dropped, drop_seconds = partition_drop(
            env["DATABASE_OWNER_URL"], oldest[-1] + timedelta(days=1)
        )
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(seed.ADMIN_URL, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
    print(f"events: {args.events:,} of one tenant over 30 days (COPY seeding {copy_seconds:.1f} s)")
    print(
        f"chunked delete: {deleted:,} events of 10 days in {seconds:.1f} s, "
        f"{deleted / seconds:,.0f} events/s (chunks of {settings.RETENTION_DELETE_CHUNK})"
    )
    print(
        f"partition drop: one day, ~{dropped:,} events, detach+drop in {drop_seconds * 1000:.0f} ms"
        f" ({dropped / max(drop_seconds, 1e-6):,.0f} events/s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
