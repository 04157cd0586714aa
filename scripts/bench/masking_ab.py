"""Bulk and single ingest with data protection on, as a ratio to off (issue 10).

Data protection is the built-in masking (MASKING_ENABLED) and encryption at
rest of before/after (ENCRYPTION_ENABLED); `SWITCHES` names what is turned
off together. The same load against two WSGI servers that differ only there,
in the order on, off, off, on (ABBA), so that a drift over the runs (the
tables growing, the machine's other load) weighs on both sides alike; every
tenant is written to once before the first run and each fresh server is
warmed before it counts. The ratio is the mean of the two "on" rates over the
mean of the two "off" ones; the goal is at least 85%. A row of the web
server's own CPU per bulk event (gunicorn master and workers) says the same
with less noise from the machine's other load.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import load
import servers
from data import EventFactory

ORDER = (True, False, False, True)
SWITCHES = ("MASKING_ENABLED", "ENCRYPTION_ENABLED")
LABEL = "masking + encryption"
WARM_REQUESTS = 8  # per server: imports, connections, caches of each worker


def server_cpu_seconds(master_pid: int) -> float:
    """User and system CPU time of a gunicorn master and its workers so far:
    the web side's own cost, much less sensitive to other load than a rate."""
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    ticks = 0
    for pid in [master_pid, *map(int, children)]:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def warm(port: int, token: str, factory: EventFactory, tenants: list[str]) -> None:
    """One small bulk per tenant (per-tenant first-time work, such as a data key)
    plus a few per fresh server, none of them counted."""
    for tenant in tenants:
        body = {"tenant_id": tenant, "events": [factory.event(tenant) for _ in range(2)]}
        for event in body["events"]:
            event.pop("tenant_id")
        status, payload = load.Client(port, token).request(
            "POST", "/api/v1/logs/bulk", json.dumps(body).encode()
        )
        if status != 201:
            raise RuntimeError(f"warm-up bulk -> {status}: {payload[:200]!r}")


def run(
    env: dict,
    port: int,
    workers: int,
    token: str,
    bodies: list[list[bytes]],
    tenants: list[str],
    seconds: int,
    factory: EventFactory,
) -> dict:
    """{"bulk": {True: [rates], False: [...]}, "single": {...}}; `bodies` has one
    list of bulk bodies per run (fresh ids each time). Every tenant is written to
    once before the first run, and each fresh server is warmed before it counts."""
    rates: dict[str, dict] = {
        "bulk": {True: [], False: []},
        "single": {True: [], False: []},
        "bulk_cpu_us": {True: [], False: []},
        "errors": 0,
    }
    for run_bodies, enabled in zip(bodies, ORDER, strict=True):
        flag = {name: "true" if enabled else "false" for name in SWITCHES}
        with servers.wsgi({**env, **flag}, port, workers) as web:
            first = not any(rates["bulk"].values())
            warm(port, token, factory, tenants if first else tenants[:WARM_REQUESTS])
            cpu = server_cpu_seconds(web.pid)
            bulk = load.bulk_ingest(port, token, run_bodies, 4)
            cpu = server_cpu_seconds(web.pid) - cpu
            rates["bulk"][enabled].append(bulk["rate"])
            rates["bulk_cpu_us"][enabled].append(cpu / bulk["events"] * 1e6)
            if seconds:
                single = load.single_posts(port, token, tenants[:20], seconds)
                rates["single"][enabled].append(single["rate"])
                rates["errors"] += single["errors"]
    return rates


def bodies_per_run(factory: EventFactory, make_bodies, events: int) -> list[list[bytes]]:
    return [make_bodies(factory, events) for _ in ORDER]


def rows(rates: dict, events: int, seconds: int) -> list[str]:
    on_cpu, off_cpu = rates["bulk_cpu_us"][True], rates["bulk_cpu_us"][False]
    cpu_ratio = (sum(off_cpu) / len(off_cpu)) / (sum(on_cpu) / len(on_cpu))
    lines = [
        f"| web CPU per bulk event, {LABEL} on / off (gunicorn master and workers, "
        f"runs on-off-off-on) | on {', '.join(f'{c:,.0f}' for c in on_cpu)} us "
        f"| off {', '.join(f'{c:,.0f}' for c in off_cpu)} us "
        f"| {cpu_ratio:.0%} (events per web CPU second, on / off; goal >= 85%) |"
    ]
    labels = {
        "bulk": f"bulk ingest, {LABEL} on / off ({events:,} events a run, 1000/request, 4 clients)",
        "single": f"single POST, {LABEL} on / off (32 clients, {seconds} s a run, "
        f"{rates['errors']} errors)",
    }
    for kind, label in labels.items():
        on, off = rates[kind][True], rates[kind][False]
        if not on or not off:
            continue
        ratio = (sum(on) / len(on)) / (sum(off) / len(off))
        verdict = "meets" if ratio >= 0.85 else "misses"
        lines.append(
            f"| {label}, runs on-off-off-on | on {', '.join(f'{r:,.0f}' for r in on)} events/s "
            f"| off {', '.join(f'{r:,.0f}' for r in off)} events/s "
            f"| {ratio:.0%} ({verdict} >= 85%) |"
        )
    return lines
