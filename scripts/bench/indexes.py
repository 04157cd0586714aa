"""What each index of the events table costs a write: COPY with all but one.

    python scripts/bench/indexes.py [--events 50000] [--rounds 2]

In the main bench's database (auditlog_bench, after `make bench`): a scratch
table shaped like logs_event (same columns, the generated full-text vector,
not partitioned, no row-level security) with its primary key and all of
logs_event's indexes; then the same COPY of the same events without each index
in turn. An index's cost is what leaving it out saves, in microseconds per
event (leave-one-out: each index is measured among the others, as it lives);
and the primary key alone is the floor. Times are the best of `rounds` (the
machine is shared: the best is the least disturbed). Prints Markdown.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from data import COPY_COLUMNS, EventFactory, copy_line, tenant_ids  # noqa: E402
from seed import admin_url  # noqa: E402

DATABASE = os.environ.get("BENCH_DATABASE", "auditlog_bench")
TABLE = "bench_index_cost"


def index_definitions(conn) -> dict[str, str]:
    """logs_event's own indexes (name -> CREATE INDEX on the scratch table)."""
    rows = conn.execute(
        """
        SELECT c.relname, pg_get_indexdef(i.indexrelid)
        FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        WHERE i.indrelid = 'logs_event'::regclass AND NOT i.indisprimary
        ORDER BY 1
        """
    ).fetchall()
    return {
        name: definition.replace(
            f"INDEX {name} ON ONLY public.logs_event", f"INDEX ON {TABLE}"
        ).replace(f"INDEX {name} ON public.logs_event", f"INDEX ON {TABLE}")
        for name, definition in rows
    }


def copy_once(conn, data: bytes, indexes: list[str]) -> float:
    conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
    conn.execute(f"CREATE TABLE {TABLE} (LIKE logs_event INCLUDING DEFAULTS INCLUDING GENERATED)")
    conn.execute(f"ALTER TABLE {TABLE} ADD PRIMARY KEY (tenant_id, id, timestamp)")
    for definition in indexes:
        conn.execute(definition)
    conn.commit()
    columns = ", ".join(f'"{c}"' for c in COPY_COLUMNS)
    started = time.perf_counter()
    with conn.cursor() as cursor, cursor.copy(f"COPY {TABLE} ({columns}) FROM STDIN") as copy:
        copy.write(data)
    conn.commit()
    elapsed = time.perf_counter() - started
    conn.execute(f"DROP TABLE {TABLE}")
    conn.commit()
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    factory = EventFactory(seed=7, tenants=tenant_ids(100), now=datetime.now(UTC))
    received = datetime.now(UTC).isoformat()
    data = io.StringIO()
    for _ in range(args.events):
        data.write(copy_line(factory.event(factory.tenant()), received))
    payload = data.getvalue().encode()
    with psycopg.connect(admin_url(DATABASE)) as conn:
        definitions = index_definitions(conn)
        every = list(definitions.values())
        variants = {"all (as logs_event)": every, "primary key only": []}
        for name, definition in definitions.items():
            variants[f"all but {name}"] = [d for d in every if d != definition]
        best = {
            name: min(copy_once(conn, payload, indexes) for _ in range(args.rounds))
            for name, indexes in variants.items()
        }
    full = best["all (as logs_event)"]
    print(
        f"{args.events:,} events per COPY, one connection, best of {args.rounds}; saved = "
        "µs per event the COPY takes less than with all indexes.\n"
    )
    print("| indexes | COPY rows/s | saved per event |")
    print("|---|---|---|")
    for name, seconds in best.items():
        saved = "-" if seconds == full else f"{(full - seconds) / args.events * 1e6:.1f} µs"
        print(f"| {name} | {args.events / seconds:,.0f} | {saved} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
