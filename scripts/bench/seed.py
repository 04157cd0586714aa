"""The benchmark database: created fresh, migrated as the owner, seeded by COPY.

The seeding COPY is also the ingest ceiling: the same rows, into the same
table, by the fastest path PostgreSQL has. It runs as a superuser (COPY FROM is
not allowed under row-level security, which binds the application role).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg import sql

from data import COPY_COLUMNS, EventFactory, copy_line

ROOT = Path(__file__).resolve().parents[2]
ADMIN_URL = os.environ.get("PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def admin_url(database: str) -> str:
    return ADMIN_URL.rsplit("/", 1)[0] + "/" + database


def recreate(database: str, owner: str) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        name, owner_role = sql.Identifier(database), sql.Identifier(owner)
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(name, owner_role))


def event_count(database: str) -> int:
    try:
        with psycopg.connect(admin_url(database)) as conn:
            return conn.execute("SELECT count(*) FROM logs_event").fetchone()[0]
    except psycopg.Error:
        return -1


def migrate(owner_url: str, env: dict, *, days_behind: int) -> None:
    """Migrate as the owner, with daily partitions from `days_behind` days back
    (the data's span), as on an installation that old; older days share history."""
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env={**env, "DATABASE_URL": owner_url, "EVENTS_PARTITIONS_BEHIND": str(days_behind)},
        check=True,
    )


def stats_rollup(app_url: str, env: dict) -> float:
    """Build the stats rollup after the COPY, which bypasses the dirty marks of
    ingest (docs/export-and-stats.md); as the application role. Seconds spent."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "manage.py", "stats_rollup", "--all"],
        cwd=ROOT,
        env={**env, "DATABASE_URL": app_url},
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


# Columns later migrations add to tenants_tenant with a model default only (no
# database default) get the type's plain value here, so seeding keeps working.
_PLAIN = {"boolean": "true", "integer": "0", "smallint": "0", "bigint": "0", "jsonb": "'{}'"}
_REQUIRED_SQL = """
    SELECT column_name, data_type FROM information_schema.columns
    WHERE table_name = 'tenants_tenant' AND is_nullable = 'NO' AND column_default IS NULL
      AND column_name NOT IN ('id', 'name', 'retention_days', 'is_active', 'created_at')
"""


def create_tenants(database: str, tenants: list[str]) -> None:
    with psycopg.connect(admin_url(database), autocommit=True) as conn:
        extra = [(name, _PLAIN.get(kind, "''")) for name, kind in conn.execute(_REQUIRED_SQL)]
        names = "".join(f", {name}" for name, _ in extra)
        values = "".join(f", {value}" for _, value in extra)
        conn.cursor().executemany(
            f"INSERT INTO tenants_tenant (id, name, retention_days, is_active, created_at{names}) "
            f"VALUES (%s, %s, 3650, true, now(){values}) ON CONFLICT DO NOTHING",
            [(t, t) for t in tenants],
        )


def write_copy_file(factory: EventFactory, count: int, tenant: str | None = None) -> Path:
    received_at = datetime.now(UTC).isoformat()
    with tempfile.NamedTemporaryFile(
        "w", suffix=".copy", delete=False, dir=ROOT / ".run"
    ) as handle:
        for _ in range(count):
            handle.write(copy_line(factory.event(tenant or factory.tenant()), received_at))
    return Path(handle.name)


def copy_events(
    database: str,
    factory: EventFactory,
    count: int,
    *,
    tenant: str | None = None,
    connections: int = 1,
) -> float:
    """`count` events of the factory COPied in through a file removed after; COPY seconds."""
    path = write_copy_file(factory, count, tenant=tenant)
    try:
        return copy_file(database, path, connections=connections)
    finally:
        path.unlink()


def copy_file(database: str, path: Path, connections: int = 1) -> float:
    """COPY the file into logs_event over `connections` concurrent connections.

    The ceiling runs with as many connections as the bulk ingest has clients,
    so the two are compared at the same concurrency (see `parallel_copy`).
    """
    return parallel_copy(
        database, [(copy_statement("logs_event", COPY_COLUMNS), path)], connections
    )


def copy_statement(table: str, columns) -> sql.Composed:
    names = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    return sql.SQL("COPY {} ({}) FROM STDIN").format(sql.Identifier(table), names)


def parallel_copy(
    database: str, copies: list[tuple[sql.Composed, Path]], connections: int
) -> float:
    """Each of `connections` connections COPYs its own share of every (statement,
    file), split at line boundaries, in one transaction of its own; returns the
    wall seconds from the first COPY's start to the last COMMIT."""
    shares = [_line_ranges(path, connections) for _, path in copies]
    conns = [psycopg.connect(admin_url(database)) for _ in range(connections)]
    errors: list[BaseException] = []

    def work(index: int) -> None:
        conn = conns[index]
        try:
            with conn.cursor() as cursor:
                for (statement, path), ranges in zip(copies, shares, strict=True):
                    if index < len(ranges):
                        _copy_range(cursor, statement, path, *ranges[index])
            conn.commit()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(connections)]
    try:
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
    finally:
        for conn in conns:
            conn.close()
    if errors:
        raise errors[0]
    return elapsed


def _copy_range(cursor, statement, path: Path, start: int, end: int) -> None:
    with cursor.copy(statement) as copy, path.open("rb") as f:
        f.seek(start)
        while (left := end - f.tell()) > 0 and (block := f.read(min(1 << 20, left))):
            copy.write(block)


def _line_ranges(path: Path, parts: int) -> list[tuple[int, int]]:
    """`parts` byte ranges of the file, each ending at a line boundary."""
    size = path.stat().st_size
    bounds = [0]
    with path.open("rb") as f:
        for i in range(1, parts):
            f.seek(max(bounds[-1], size * i // parts))
            f.readline()  # to the end of the line this offset falls in
            bounds.append(min(f.tell(), size))
    bounds.append(size)
    return [(a, b) for a, b in zip(bounds, bounds[1:], strict=False) if b > a]


def analyze(database: str) -> None:
    with psycopg.connect(admin_url(database), autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) logs_event")
