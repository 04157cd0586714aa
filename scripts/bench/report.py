"""The benchmark's Markdown table, printed and written to docs/performance.md."""

from __future__ import annotations

from datetime import UTC, datetime


def _f(value: float, digits: int = 1) -> str:
    return f"{value:,.{digits}f}"


def render(args, r: dict, machine: str) -> str:
    lines = [
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine}; "
        f"{args.events:,} events across {args.tenants} tenants; "
        f"`make bench` (`python scripts/bench --events {args.events}`), "
        f"{args.workers} WSGI workers.",
        "",
        "| measure | result | baseline (same run) | ratio / goal |",
        "|---|---|---|---|",
    ]
    copy = r.get("copy")
    if copy:
        lines.append(
            f"| raw COPY seeding logs_event ({copy.get('connections', 1)} connections) "
            f"| {_f(copy['rate'], 0)} rows/s "
            f"({copy['events']:,} rows in {_f(copy['seconds'])} s) | - | - |"
        )
    lines += ingest_rows(r)
    for row in r.get("search", []):
        h, d = row["http"], row["direct"]
        ok = "meets" if h["p95_ms"] < 50 else "misses"
        lines.append(
            f"| search: {row['shape']} ({h['n']} requests, {_f(row['mean_rows'], 0)} rows/page) | "
            f"p50 {_f(h['p50_ms'])} / p95 {_f(h['p95_ms'])} ms | SQL direct p50 {_f(d['p50_ms'])} "
            f"/ p95 {_f(d['p95_ms'])} ms | {ok} p95 < 50 ms |"
        )
    for extra in r.get("extra_rows", []):
        lines.append(extra)
    return "\n".join(lines)


def export_row(tenant: str, e: dict) -> str:
    ok = "meets" if e["rate"] >= 20_000 else "misses"
    return (
        f"| export {e['format']} of {tenant} ({e['rows']:,} rows, {_f(e['mib'])} MiB) | "
        f"{_f(e['rate'], 0)} rows/s in {_f(e['seconds'])} s | RSS of the worker serving it "
        f"{_f(e['rss_before_mib'])} MiB at the first byte, peak {_f(e['rss_peak_mib'])} MiB | "
        f"{ok} >= 20k rows/s |"
    )


def stats_row(tenant: str, s: dict) -> str:
    return (
        f"| stats of {tenant} ({s['total']:,} events in range; hour and day buckets, "
        f"{s['n']} requests) | p50 {_f(s['p50_ms'])} / p95 {_f(s['p95_ms'])} ms | - | - |"
    )


def stream_row(s: dict) -> str:
    ok = "meets" if s["p95_ms"] < 100 else "misses"
    return (
        f"| stream: 201 -> WebSocket delivery ({s['n']} events) | p50 {_f(s['p50_ms'])} / "
        f"p95 {_f(s['p95_ms'])} ms | - | {ok} p95 < 100 ms |"
    )


def slow_exports_row(tenant: str, r: dict) -> str:
    idle, during = r["idle"], r["during"]
    return (
        f"| list latency while {r['stalled']} slow exports run (list of {tenant} through nginx, "
        f"{during['n']} requests; exports stalled after their status line) | "
        f"p50 {_f(during['p50_ms'])} / p95 {_f(during['p95_ms'])} ms | "
        f"same list, no export: p50 {_f(idle['p50_ms'])} / p95 {_f(idle['p95_ms'])} ms | - |"
    )


def _verdict(ratio: float, goal: float) -> str:
    return f"{ratio:.0%} ({'meets' if ratio >= goal else 'misses'} >= {goal:.0%})"


def ingest_rows(r: dict) -> list[str]:
    """Ceilings, bulk and single POSTs, each with its ratio to its ceiling."""
    rows, c, bulk = [], r.get("ceilings"), r["bulk"]
    if c:
        n, conns = c["events"], c["connections"]
        same, lean = c["same"]["rate"], c["lean"]["rate"]
        rows.append(
            f"| raw COPY into logs_event + logs_event_key (ceiling, {n:,} events, {conns} "
            f"connections) | {_f(same, 0)} rows/s | - | - |"
        )
        rows.append(
            f"| raw COPY into a lean table (ceiling: primary key, 2 B-trees, full-text GIN; "
            f"{n:,} events) | {_f(lean, 0)} rows/s | - | - |"
        )
    bulk_cell = (
        f"{_f(bulk['rate'], 0)} events/s (request p50 {_f(bulk['p50_ms'])} ms, "
        f"p95 {_f(bulk['p95_ms'])} ms)"
    )
    if c:
        rows.append(
            f"| bulk ingest over HTTP (1000/request, 4 clients) | {bulk_cell} | "
            f"COPY same tables {_f(same, 0)} rows/s; lean {_f(lean, 0)} rows/s | "
            f"{_verdict(bulk['rate'] / same, 0.8)} of same tables; "
            f"{_verdict(bulk['rate'] / lean, 0.5)} of lean |"
        )
    else:
        rows.append(f"| bulk ingest over HTTP (1000/request, 4 clients) | {bulk_cell} | - | - |")
    minimal = r.get("minimal")
    if minimal:
        rows.append(
            f"| minimal Django view, 32 clients (ceiling: same server, body parsed, no "
            f"database) | {_f(minimal['rate'], 0)} requests/s; p50 {_f(minimal['p50_ms'])} / "
            f"p99 {_f(minimal['p99_ms'])} ms; {minimal['errors']} errors | - | - |"
        )
    servers = (
        ("single_wsgi", "WSGI (gunicorn)"),
        ("single_asgi", "ASGI (uvicorn, 2 workers)"),
    )
    for key, label in servers:
        s = r.get(key)
        if not s:
            continue
        ok = "meets" if s["rate"] >= 1000 and s["p99_ms"] < 100 else "misses"
        ratio = f"; {_verdict(s['rate'] / minimal['rate'], 0.5)} of minimal" if minimal else ""
        base = f"minimal Django {_f(minimal['rate'], 0)}/s" if minimal else "-"
        rows.append(
            f"| single POST, 32 clients, {label} | {_f(s['rate'], 0)} events/s; "
            f"p50 {_f(s['p50_ms'])} / p95 {_f(s['p95_ms'])} / p99 {_f(s['p99_ms'])} ms; "
            f"{s['errors']} errors | {base} "
            f"| {ok} >= 1000/s, p99 < 100 ms{ratio} |"
        )
    return rows
