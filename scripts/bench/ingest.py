"""The ingest ceilings, measured in the same run as the ingest they bound.

- `copy_same_tables`: raw COPY of N fresh events into the tables bulk ingest
  writes (logs_event and its idempotency keys, logs_event_key), over as many
  connections as the bulk has clients, each in one transaction; the rows are
  deleted and the tables vacuumed after, so the bulk that follows meets the
  same tables.
- `copy_lean_table`: the same COPY into a lean table (primary key, two
  B-trees, a full-text GIN index; no partitions, no row-level security): what
  the schema's write amplification costs.
- `minimal_django`: single POSTs, same wrk script and clients, against a
  minimal Django view served by gunicorn like the API (minimal_app.py).
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import psycopg

import load
import servers
from data import COPY_COLUMNS, EventFactory, copy_line
from seed import admin_url, copy_statement, parallel_copy

ROOT = Path(__file__).resolve().parents[2]
SENTINEL_RECEIVED_AT = "2001-02-03T04:05:06+00:00"  # marks the ceiling's rows for deletion
LEAN_TABLE = "bench_lean_event"
LEAN_DDL = f"""
DROP TABLE IF EXISTS {LEAN_TABLE};
CREATE TABLE {LEAN_TABLE} (LIKE logs_event INCLUDING DEFAULTS INCLUDING GENERATED);
ALTER TABLE {LEAN_TABLE} ADD PRIMARY KEY (tenant_id, id);
CREATE INDEX ON {LEAN_TABLE} (tenant_id, "timestamp" DESC);
CREATE INDEX ON {LEAN_TABLE} (tenant_id, user_id, "timestamp" DESC);
CREATE INDEX ON {LEAN_TABLE} USING gin (search_vector);
"""


def _files(factory: EventFactory, count: int) -> tuple[Path, Path]:
    """COPY text files of `count` fresh events and of their idempotency keys."""
    run = ROOT / ".run"
    events = tempfile.NamedTemporaryFile("w", suffix=".copy", delete=False, dir=run)  # noqa: SIM115
    keys = tempfile.NamedTemporaryFile("w", suffix=".copy", delete=False, dir=run)  # noqa: SIM115
    with events, keys:
        for _ in range(count):
            event = factory.event(factory.tenant())
            line = copy_line(event, SENTINEL_RECEIVED_AT)
            events.write(line)
            digest = hashlib.md5(line.encode(), usedforsecurity=False).hexdigest()
            keys.write(
                f"{event['tenant_id']}\t{event['id']}\t{event['timestamp']}\t\\\\x{digest}\n"
            )
    return Path(events.name), Path(keys.name)


def copies(database: str, factory: EventFactory, count: int, connections: int) -> dict:
    """Both COPY ceilings over the same `count` events; rows/s of each."""
    events, keys = _files(factory, count)
    event_copy = copy_statement("logs_event", COPY_COLUMNS)
    key_copy = copy_statement("logs_event_key", ("tenant_id", "id", "timestamp", "content_hash"))
    try:
        same = parallel_copy(database, [(event_copy, events), (key_copy, keys)], connections)
        _delete_ceiling_rows(database)
        with psycopg.connect(admin_url(database), autocommit=True) as conn:
            conn.execute(LEAN_DDL)
        lean = parallel_copy(
            database, [(copy_statement(LEAN_TABLE, COPY_COLUMNS), events)], connections
        )
        with psycopg.connect(admin_url(database), autocommit=True) as conn:
            conn.execute(f"DROP TABLE {LEAN_TABLE}")
    finally:
        events.unlink()
        keys.unlink()
    return {
        "events": count,
        "connections": connections,
        "same": {"seconds": same, "rate": count / same},
        "lean": {"seconds": lean, "rate": count / lean},
    }


def _delete_ceiling_rows(database: str) -> None:
    with psycopg.connect(admin_url(database), autocommit=True) as conn:
        conn.execute(
            """
            WITH gone AS (DELETE FROM logs_event WHERE received_at = %s RETURNING tenant_id, id)
            DELETE FROM logs_event_key AS k USING gone
            WHERE k.tenant_id = gone.tenant_id AND k.id = gone.id
            """,
            [SENTINEL_RECEIVED_AT],
        )
        conn.execute("VACUUM logs_event, logs_event_key")


def minimal_django(env: dict, port: int, workers: int, tenants: list[str], seconds: int) -> dict:
    """Single POSTs (the bench's wrk script, 32 clients) against minimal_app.py."""
    app = ["--chdir", str(Path(__file__).parent)]
    args = servers.topology.gunicorn(port, workers, app="minimal_app:application") + app
    clean = {k: v for k, v in env.items() if k != "DJANGO_SETTINGS_MODULE"}
    with servers.process(f"minimal-{port}", [*args, "--log-level", "warning"], clean, port):
        return load.single_posts(port, "unused", tenants, seconds)
