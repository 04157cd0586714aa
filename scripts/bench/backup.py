"""Recovery point and recovery time, measured: back up and restore N events.

    SQS_ENDPOINT_URL=http://127.0.0.1:PORT python scripts/bench/backup.py --events 200000

Seeds its own database (auditlog_bench_backup: COPY of the bench's generated
events across 100 tenants), then runs the project's own backup (pg_dump custom
format streamed to the local S3 endpoint, with the manifest's fingerprint) and
restore (download, SHA-256 check, pg_restore in one transaction, grants, and
the fingerprint check) into auditlog_bench_restored, and prints the timings and
their scale per million events. Both databases are dropped at the end. A moto
server is started on SQS_ENDPOINT_URL when none answers there.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import seed  # noqa: E402
import servers  # noqa: E402
from data import EventFactory, tenant_ids  # noqa: E402

SOURCE, TARGET = "auditlog_bench_backup", "auditlog_bench_restored"


def settings_env(endpoint: str) -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": "auditlog_project.settings.test",
        "AUDITLOG_INSTANCE": "auditlog_bench",
        "SQS_ENDPOINT_URL": endpoint,
        "DATABASE_URL": f"postgres://auditlog_app@127.0.0.1:5432/{SOURCE}",
        "DATABASE_OWNER_URL": f"postgres://auditlog_owner@127.0.0.1:5432/{SOURCE}",
        "BACKUP_DATABASE_URL": f"postgres://auditlog_backup@127.0.0.1:5432/{SOURCE}",
        "BACKUP_PREFIX": f"bench/{datetime.now(UTC):%Y%m%dT%H%M%S}/",
    }


def seed_source(events: int, env: dict) -> float:
    seed.recreate(SOURCE, "auditlog_owner")
    seed.migrate(env["DATABASE_OWNER_URL"], {**os.environ, **env}, days_behind=31)
    factory = EventFactory(seed=42, tenants=tenant_ids(100), now=datetime.now(UTC))
    seed.create_tenants(SOURCE, factory.tenants)
    seconds = seed.copy_events(SOURCE, factory, events, connections=2)
    seed.analyze(SOURCE)
    return seconds


def measure(events: int) -> dict:
    from backups import pg, services

    source = services.source_database()
    started = time.monotonic()
    manifest = services.backup_create(source=source, backup_id="bench")
    backup_seconds = time.monotonic() - started
    target = services.restore_target(TARGET)
    pg.database_drop(target)
    started = time.monotonic()
    report = services.backup_restore(backup_id="bench", target=target, checker=source)
    restore_seconds = time.monotonic() - started
    pg.database_drop(target)
    assert sum(report.events_per_tenant.values()) == events
    return {
        "bytes": manifest["dump"]["bytes"],
        "backup": backup_seconds,
        "fingerprint": manifest["seconds_fingerprint"],
        "restore": restore_seconds,
        "download": report.seconds_download,
        "pg_restore": report.seconds_restore,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args()
    endpoint = os.environ.get("SQS_ENDPOINT_URL", "http://127.0.0.1:9325")
    env = settings_env(endpoint)
    copy_seconds = seed_source(args.events, env)
    os.environ.update(env)
    import django

    django.setup()
    try:
        with servers.sqs(endpoint):
            result = measure(args.events)
    finally:
        with psycopg.connect(seed.ADMIN_URL, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {SOURCE} WITH (FORCE)")
    per_million = 1_000_000 / args.events
    print(f"events: {args.events:,} across 100 tenants (COPY seeding {copy_seconds:.1f} s)")
    print(f"dump: {result['bytes']:,} bytes ({result['bytes'] / args.events:.0f} bytes/event)")
    for name in ("backup", "restore"):
        seconds = result[name]
        print(
            f"{name}: {seconds:.1f} s, {args.events / seconds:,.0f} events/s, "
            f"{seconds * per_million:.0f} s per million events"
        )
    print(f"  backup = fingerprint {result['fingerprint']:.1f} s + pg_dump and upload")
    print(
        f"  restore = download+verify {result['download']:.1f} s + pg_restore "
        f"{result['pg_restore']:.1f} s + grants and fingerprint check"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
