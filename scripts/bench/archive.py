"""Archive and restore throughput, and bytes per event hot (PostgreSQL) vs archived.

    SQS_ENDPOINT_URL=http://127.0.0.1:PORT python scripts/bench/archive.py --events 200000

Seeds its own database (auditlog_bench_archive: COPY of the bench's generated
events of one tenant over --days ended UTC days, each day in its own daily
partition, plus their idempotency keys), VACUUMs it and measures what the
events take in PostgreSQL: heap, TOAST and indexes of the daily partitions
(pg_total_relation_size) and the keys table. Then it runs the project's own
archive (archival.archive.archive_tenant_day: Parquet+zstd, upload to the
local S3 endpoint, read back and verified) over those days, sizes the same
rows as gzip NDJSON for comparison, deletes the days' rows and keys, restores
them (archival.restore.restore_tenant_day) and checks the count. Prints the
rows for docs/performance.md. The database is dropped at the end. A moto
server is started on SQS_ENDPOINT_URL when none answers there.

COPY seeding stores events as the generator makes them: no masking, no
encryption (sealed fields, being random, would compress less in both places).
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import seed  # noqa: E402
import servers  # noqa: E402
from data import EventFactory  # noqa: E402

DATABASE = "auditlog_bench_archive"
TENANT = "bench-archive"

SIZES_SQL = """
    SELECT coalesce(sum(pg_relation_size(c.oid)), 0),
           coalesce(sum(pg_total_relation_size(c.oid) - pg_relation_size(c.oid)
                        - pg_indexes_size(c.oid)), 0),
           coalesce(sum(pg_indexes_size(c.oid)), 0)
    FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'public.logs_event'::regclass
"""


def settings_env(endpoint: str) -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": "auditlog_project.settings.test",
        "AUDITLOG_INSTANCE": "auditlog_bench_archive",
        "SQS_ENDPOINT_URL": endpoint,
        "DATABASE_URL": f"postgres://auditlog_app@127.0.0.1:5432/{DATABASE}",
        "DATABASE_OWNER_URL": f"postgres://auditlog_owner@127.0.0.1:5432/{DATABASE}",
        "LOG_LEVEL": "WARNING",
    }


def seed_database(events: int, days: int, env: dict) -> list:
    """COPY `events` of TENANT over the `days` UTC days before today; those days."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    seed.recreate(DATABASE, "auditlog_owner")
    seed.migrate(env["DATABASE_OWNER_URL"], {**os.environ, **env}, days_behind=days + 1)
    seed.create_tenants(DATABASE, [TENANT])
    factory = EventFactory(seed=7, tenants=[TENANT], now=today, days=days)
    seed.copy_events(DATABASE, factory, events, tenant=TENANT, connections=2)
    with psycopg.connect(seed.admin_url(DATABASE), autocommit=True) as conn:
        conn.execute("SELECT set_config('app.tenant_id', %s, false)", [TENANT])
        conn.execute(
            'INSERT INTO logs_event_key (tenant_id, id, "timestamp", content_hash) '
            "SELECT tenant_id, id, \"timestamp\", decode(md5(id::text), 'hex') FROM logs_event"
        )
        conn.execute("VACUUM (ANALYZE) logs_event")
        conn.execute("VACUUM (ANALYZE) logs_event_key")
    return [(today - timedelta(days=n)).date() for n in range(days, 0, -1)]


def hot_sizes() -> dict[str, int]:
    with psycopg.connect(seed.admin_url(DATABASE)) as conn:
        heap, toast, indexes = conn.execute(SIZES_SQL).fetchone()
        keys = conn.execute("SELECT pg_total_relation_size('logs_event_key')").fetchone()[0]
    return {"heap": heap, "toast": toast, "indexes": indexes, "keys": keys}


def ndjson_gzip_bytes(record) -> int:
    """The same rows as gzip (level 6) NDJSON: the alternative ADR 0009 weighed."""
    import pyarrow.parquet as pq

    from archival import storage

    sink = io.BytesIO()
    with gzip.GzipFile(fileobj=sink, mode="wb", compresslevel=6) as out:
        for part in record.parts:
            body = io.BytesIO(storage.s3_client().get_object(
                Bucket=storage.bucket(), Key=part["key"])["Body"].read())  # fmt: skip
            for batch in pq.ParquetFile(body).iter_batches(batch_size=5000):
                for row in batch.to_pylist():
                    row["key_content_hash"] = (row["key_content_hash"] or b"").hex()
                    out.write(json.dumps(row, default=str).encode() + b"\n")
    return sink.tell()


def delete_days(days: list) -> int:
    with psycopg.connect(seed.admin_url(DATABASE), autocommit=True) as conn:
        conn.execute("SELECT set_config('app.tenant_id', %s, false)", [TENANT])
        conn.execute("DELETE FROM logs_event_key")
        return conn.execute("DELETE FROM logs_event").rowcount


def measure(days: list) -> dict:
    from archival.archive import archive_tenant_day
    from archival.restore import restore_tenant_day

    started = time.monotonic()
    records = [archive_tenant_day(TENANT, day) for day in days]
    archive_seconds = time.monotonic() - started
    rows = sum(r.row_count for r in records)
    gz = sum(ndjson_gzip_bytes(r) for r in records)
    deleted = delete_days(days)
    assert deleted == rows, (deleted, rows)
    started = time.monotonic()
    restored = sum(restore_tenant_day(TENANT, day).restored for day in days)
    restore_seconds = time.monotonic() - started
    assert restored == rows, (restored, rows)
    return {
        "rows": rows,
        "parquet": sum(r.bytes for r in records),
        "gzip_ndjson": gz,
        "archive": archive_seconds,
        "restore": restore_seconds,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--days", type=int, default=2)
    args = parser.parse_args()
    endpoint = os.environ.get("SQS_ENDPOINT_URL", "http://127.0.0.1:9325")
    env = settings_env(endpoint)
    days = seed_database(args.events, args.days, env)
    hot = hot_sizes()
    os.environ.update(env)
    import django

    django.setup()
    try:
        with servers.sqs(endpoint):
            result = measure(days)
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(seed.ADMIN_URL, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
    report(args, hot, result)
    return 0


def report(args, hot: dict, r: dict) -> None:
    n = r["rows"]
    events_table = hot["heap"] + hot["toast"] + hot["indexes"]
    ratio = (events_table + hot["keys"]) / r["parquet"]
    rows = [
        ("PostgreSQL heap, bytes/event", f"{hot['heap'] / n:,.0f}"),
        ("PostgreSQL TOAST, bytes/event", f"{hot['toast'] / n:,.0f}"),
        ("PostgreSQL indexes, bytes/event", f"{hot['indexes'] / n:,.0f}"),
        ("PostgreSQL events (heap+TOAST+indexes), bytes/event", f"{events_table / n:,.0f}"),
        ("PostgreSQL idempotency keys (table+index), bytes/event", f"{hot['keys'] / n:,.0f}"),
        ("archive Parquet+zstd, bytes/event", f"{r['parquet'] / n:,.1f}"),
        ("same rows as gzip NDJSON, bytes/event", f"{r['gzip_ndjson'] / n:,.1f}"),
        ("compression ratio hot (events+keys) / archive", f"{ratio:,.1f}x"),
        ("archive (write, upload, read back, verify)", f"{n / r['archive']:,.0f} events/s"),
        ("restore (download, verify, insert, keys, marks)", f"{n / r['restore']:,.0f} events/s"),
    ]
    print(f"events: {n:,} of one tenant over {args.days} UTC days")
    print("| measure | value |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    sys.exit(main())
