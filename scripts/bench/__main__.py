"""`make bench`: seed N events across 100 tenants, then measure against baselines.

    python scripts/bench [--events N] [--reuse] [--no-docs]

Everything runs in one go on this machine, in a database of its own
(auditlog_bench): raw COPY (the ingest ceiling), bulk ingest over HTTP, single
POSTs at 32 clients (wrk), search shapes over HTTP and the same SQL run
directly (the search ceiling), and the serving comparison (WSGI vs ASGI).
The table goes to stdout and into docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import ingest  # noqa: E402

import extras  # noqa: E402
import load  # noqa: E402
import masking_ab  # noqa: E402
import seed  # noqa: E402
import servers  # noqa: E402
from data import EventFactory, tenant_ids  # noqa: E402

DATABASE = os.environ.get("BENCH_DATABASE", "auditlog_bench")
APP_URL = f"postgres://auditlog_app@127.0.0.1:5432/{DATABASE}"
OWNER_URL = f"postgres://auditlog_owner@127.0.0.1:5432/{DATABASE}"
WEB_PORT, ALT_PORT = 8390, 8391
ROUTED_PORT = 8392  # nginx; its pools on 8393 and 8395 (scripts/servers.py Ports)
# The bulk ingest's client threads, and so the COPY ceiling's connections.
BULK_CLIENTS = 4


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    env = os.environ.get
    parser.add_argument("--events", type=int, default=int(env("BENCH_EVENTS", 1_000_000)))
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--bulk-events", type=int, default=int(env("BENCH_BULK_EVENTS", 200_000)))
    parser.add_argument(
        "--export-rows", type=int, default=int(env("BENCH_EXPORT_ROWS", 1_000_000)),
        help="events of one extra tenant, exported whole to measure export",
    )  # fmt: skip
    parser.add_argument("--single-seconds", type=int, default=20)
    parser.add_argument("--search-requests", type=int, default=200)
    parser.add_argument("--workers", type=int, default=int(env("WEB_CONCURRENCY", 4)))
    parser.add_argument(
        "--masking-events", type=int, default=int(env("BENCH_MASKING_EVENTS", 50_000)),
        help="events per run of the masking + encryption on/off comparison (4 runs; 0 skips it)",
    )  # fmt: skip
    parser.add_argument("--reuse", action="store_true", help="keep a database seeded with N events")
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite docs/performance.md")
    parser.add_argument(
        "--only", choices=["ingest"],
        help="ingest only: the ceilings, bulk and single POSTs (no search, export, stream, A/B)",
    )  # fmt: skip
    return parser.parse_args()


def log(message: str) -> None:
    print(f"[bench {datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


def prepare(args, env) -> tuple[dict, EventFactory]:
    now = datetime.now(UTC)
    factory = EventFactory(seed=42, tenants=tenant_ids(args.tenants), now=now)
    result: dict = {}
    if args.reuse and seed.event_count(DATABASE) >= args.events:
        log(f"reusing {DATABASE} ({seed.event_count(DATABASE)} events); no COPY figure this run")
        return result, factory
    log(f"creating {DATABASE} and migrating as the owner role")
    seed.recreate(DATABASE, "auditlog_owner")
    seed.migrate(OWNER_URL, env, days_behind=31)
    seed.create_tenants(DATABASE, [*factory.tenants, extras.EXPORT_TENANT])
    log(f"generating {args.events:,} events")
    path = seed.write_copy_file(factory, args.events)
    try:
        log(f"raw COPY into logs_event (the ingest ceiling), {BULK_CLIENTS} connections")
        seconds = seed.copy_file(DATABASE, path, connections=BULK_CLIENTS)
    finally:
        path.unlink()
    result["copy"] = {
        "events": args.events,
        "seconds": seconds,
        "rate": args.events / seconds,
        "connections": BULK_CLIENTS,
    }
    log(f"COPY: {result['copy']['rate']:,.0f} rows/s")
    if args.export_rows:
        log(f"seeding {args.export_rows:,} events of {extras.EXPORT_TENANT} for the export rows")
        path = seed.write_copy_file(factory, args.export_rows, tenant=extras.EXPORT_TENANT)
        try:
            seed.copy_file(DATABASE, path)
        finally:
            path.unlink()
    log("building the stats rollup (manage.py stats_rollup --all)")
    log(f"stats rollup built in {seed.stats_rollup(APP_URL, env):.0f}s")
    log("VACUUM ANALYZE")
    seed.analyze(DATABASE)
    return result, factory


def django_setup(env: dict) -> None:
    os.environ.update(env)
    import django

    django.setup()


def principal() -> str:
    """A platform administrator for the load; returns its access token."""
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import User

    user = User.objects.filter(username="bench").first()
    if user is None:
        user = User.objects.create_superuser(username="bench", password=None)
    return str(AccessToken.for_user(user))


def bulk_bodies(factory: EventFactory, total: int, size: int = 1000) -> list[bytes]:
    bodies = []
    for _ in range(total // size):
        tenant = factory.tenant()
        events = [factory.event(tenant) for _ in range(size)]
        for event in events:
            event.pop("tenant_id")
        bodies.append(json.dumps({"tenant_id": tenant, "events": events}).encode())
    return bodies


def main() -> int:
    with servers.sqs(os.environ.get("SQS_ENDPOINT_URL", "")):
        return run()


def run() -> int:
    args = parse_args()
    env = servers.env_for(APP_URL)
    results, factory = prepare(args, env)
    django_setup(env)
    tenants = tenant_ids(args.tenants)
    token = principal()

    import searches  # needs Django

    bodies = bulk_bodies(factory, args.bulk_events)
    log(f"ingest ceilings: raw COPY of {args.bulk_events:,} events, same tables and lean table")
    results["ceilings"] = ingest.copies(DATABASE, factory, args.bulk_events, BULK_CLIENTS)
    log("single POSTs against a minimal Django view (the framework's ceiling)")
    results["minimal"] = ingest.minimal_django(
        env, ALT_PORT, args.workers, tenants[:20], args.single_seconds
    )
    log(f"minimal Django: {results['minimal']['rate']:,.0f} requests/s")
    with servers.wsgi(env, WEB_PORT, args.workers) as web:
        log(f"bulk ingest: {args.bulk_events:,} events, 1000 per request, {BULK_CLIENTS} clients")
        results["bulk"] = load.bulk_ingest(WEB_PORT, token, bodies, threads=BULK_CLIENTS)
        log(f"bulk: {results['bulk']['rate']:,.0f} events/s")
        log(f"single POSTs: 32 clients for {args.single_seconds}s (wrk)")
        results["single_wsgi"] = load.single_posts(
            WEB_PORT, token, tenants[:20], args.single_seconds
        )
        log(f"single: {results['single_wsgi']['rate']:,.0f} events/s")
        if args.only == "ingest":
            return finish(args, results)
        seed.analyze(DATABASE)
        log("search shapes over HTTP and the same SQL directly")
        results["search"] = searches.run(WEB_PORT, token, tenants, args.search_requests)
        results["extra_rows"] = issue5_rows(args, token, tenants, web.pid, env)
    with servers.asgi(env, ALT_PORT, workers=2):
        log("serving comparison: the same single POSTs against one ASGI server")
        results["single_asgi"] = load.single_posts(
            ALT_PORT, token, tenants[:20], args.single_seconds
        )
    if args.masking_events:
        results["extra_rows"] += masking_rows(args, factory, token, tenants, env)
    return finish(args, results)


def finish(args, results: dict) -> int:
    report = render(args, results)
    print(report)
    if not args.no_docs and not args.only:
        write_docs(report)
    return 0


def masking_rows(args, factory, token: str, tenants: list[str], env: dict) -> list[str]:
    """Bulk and single ingest with masking and encryption on and off, runs on-off-off-on."""
    bodies = masking_ab.bodies_per_run(factory, bulk_bodies, args.masking_events)
    seconds = max(args.single_seconds // 2, 5)
    log(
        f"{masking_ab.LABEL} on/off: 4 runs of {args.masking_events:,} bulk events "
        f"and {seconds}s of single"
    )
    rates = masking_ab.run(env, ALT_PORT, args.workers, token, bodies, tenants, seconds, factory)
    return masking_ab.rows(rates, args.masking_events, seconds)


def issue5_rows(args, token: str, tenants: list[str], web_pid: int, env: dict) -> list[str]:
    """Export, stream and stats, measured against the running WSGI server."""
    from report import export_row, slow_exports_row, stats_row, stream_row

    rows = []
    big = extras.EXPORT_TENANT if args.export_rows else tenants[0]
    for tenant, fmt in ((big, "csv"), (big, "ndjson"), (tenants[50], "csv")):
        log(f"export {fmt} of {tenant}")
        rows.append(export_row(tenant, extras.export(WEB_PORT, token, tenant, fmt, web_pid)))
    from logs.tasks import stats_rollup_refresh

    # What beat does every minute in production: recompute the hours the ingest
    # above marked dirty (until then they are read raw, exact but slower).
    log(f"stats rollup refresh: {stats_rollup_refresh():,} dirty hours recomputed")
    for tenant in (big, tenants[0]):
        log(f"stats of {tenant}")
        rows.append(stats_row(tenant, extras.stats(WEB_PORT, token, tenant, 20)))
    with servers.asgi(env, ALT_PORT, workers=1):
        log("stream delivery latency: 201 -> WebSocket")
        latency = extras.stream_latency(WEB_PORT, ALT_PORT, token, tenants[1], 200)
        rows.append(stream_row(latency))
    with servers.served(env, ROUTED_PORT, args.workers):
        log("list latency while 8 slow exports run (nginx, web and export pools)")
        # bench-003: tens of MiB per export, far more than the socket buffers.
        slow = extras.list_during_slow_exports(ROUTED_PORT, token, tenants[3], tenants[50], 100)
        rows.append(slow_exports_row(tenants[50], slow))
    return rows


def render(args, r: dict) -> str:
    from report import render as render_table

    return render_table(args, r, machine())


def machine() -> str:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores, {mem:.0f} GiB, {platform.python_version()}, commit {commit}"


def write_docs(report: str) -> None:
    path = ROOT / "docs" / "performance.md"
    start, end = "<!-- bench:start -->", "<!-- bench:end -->"
    text = path.read_text() if path.exists() else f"# Performance\n\n{start}\n{end}\n"
    if start not in text:
        text += f"\n{start}\n{end}\n"
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    path.write_text(f"{head}{start}\n{report}\n{end}{tail}")
    log(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    started = time.perf_counter()
    code = main()
    log(f"done in {time.perf_counter() - started:.0f}s")
    sys.exit(code)
