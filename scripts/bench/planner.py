"""Planner statistics of a fresh partition: a tenant new today, before and after ANALYZE.

    python scripts/bench/planner.py [--events 200000] [--background 60000]

In a database of its own (auditlog_bench_planner): background tenants over
three days, VACUUM ANALYZE (last night's maintenance), then a burst of
`--events` for a tenant that did not exist at that ANALYZE, all dated today.
Measures the list endpoint's own SQL (searches.direct_ms: tenant + last 24 h,
and one-word full text) with the stale statistics, then runs the beat task's
work (logs.planner.analyze_hot_partitions) and measures again. Prints the
table for docs/performance.md#planner-statistics.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts" / "bench"))

import seed  # noqa: E402
from data import EventFactory, tenant_ids  # noqa: E402

DATABASE = os.environ.get("PLANNER_DATABASE", "auditlog_bench_planner")
APP_URL = f"postgres://auditlog_app@127.0.0.1:5432/{DATABASE}"
OWNER_URL = f"postgres://auditlog_owner@127.0.0.1:5432/{DATABASE}"
FRESH = "fresh-today"


def measure(label: str, runs: int) -> dict:
    import searches

    day = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    shapes = {"tenant + last 24 h": {"start_time": day}, "full text q (one word)": {"q": "alpha"}}
    out = {}
    for name, params in shapes.items():
        searches.direct_ms(FRESH, params)  # warm the cache
        times = sorted(searches.direct_ms(FRESH, params) for _ in range(runs))
        out[name] = {"median": statistics.median(times), "p95": times[int(0.95 * (len(times) - 1))]}
        print(
            f"{label:>8} | {name:<24} | median {out[name]['median']:7.1f} ms | "
            f"p95 {out[name]['p95']:7.1f} ms",
            flush=True,
        )
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--background", type=int, default=60_000)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "auditlog_project.settings.local"}
    seed.recreate(DATABASE, "auditlog_owner")
    seed.migrate(OWNER_URL, env, days_behind=4)
    background = tenant_ids(20)
    seed.create_tenants(DATABASE, [*background, FRESH])
    now = datetime.now(UTC)
    old = EventFactory(seed=1, tenants=background, now=now, days=3)
    path = seed.write_copy_file(old, args.background)
    try:
        seed.copy_file(DATABASE, path)
    finally:
        path.unlink()
    seed.analyze(DATABASE)  # last night's maintenance: FRESH did not exist yet
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    span_days = max((now - midnight).total_seconds() - 60, 60) / 86400
    fresh = EventFactory(seed=2, tenants=[FRESH], now=now - timedelta(seconds=30), days=span_days)
    path = seed.write_copy_file(fresh, args.events, tenant=FRESH)
    try:
        seed.copy_file(DATABASE, path)
    finally:
        path.unlink()
    os.environ.update({**env, "DATABASE_URL": APP_URL})
    import django

    django.setup()
    before = measure("stale", args.runs)
    from logs.planner import analyze_hot_partitions

    analyzed = analyze_hot_partitions(min_rows=5000)
    print(f"beat task work: analyzed {analyzed}", flush=True)
    after = measure("fresh", args.runs)
    print("\n| shape | stale statistics (median / p95 ms) | after the beat task's ANALYZE |")
    print("|---|---|---|")
    for name in before:
        b, a = before[name], after[name]
        print(
            f"| {name} | {b['median']:.1f} / {b['p95']:.1f} | {a['median']:.1f} / {a['p95']:.1f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
