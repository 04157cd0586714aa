"""Bulk and single ingest with data protection on, as a ratio to off (issue 10).

Data protection is the built-in masking (MASKING_ENABLED) and encryption at
rest of before/after (ENCRYPTION_ENABLED); `SWITCHES` names what is turned
off together. The same load against two WSGI servers that differ only there,
in the order on, off, off, on (ABBA), so that a drift over the runs (the
tables growing, the machine's other load) weighs on both sides alike. The
ratio is the mean of the two "on" rates over the mean of the two "off" ones;
the goal is at least 85%.
"""

from __future__ import annotations

import load
import servers
from data import EventFactory

ORDER = (True, False, False, True)
SWITCHES = ("MASKING_ENABLED", "ENCRYPTION_ENABLED")
LABEL = "masking + encryption"


def run(
    env: dict, port: int, workers: int, token: str, bodies: list[list[bytes]], tenants, seconds
) -> dict:
    """{"bulk": {True: [rates], False: [...]}, "single": {...}}; `bodies` has one
    list of bulk bodies per run (fresh ids each time)."""
    rates: dict[str, dict[bool, list[float]]] = {
        "bulk": {True: [], False: []},
        "single": {True: [], False: []},
    }
    for run_bodies, enabled in zip(bodies, ORDER, strict=True):
        flag = {name: "true" if enabled else "false" for name in SWITCHES}
        with servers.wsgi({**env, **flag}, port, workers):
            rates["bulk"][enabled].append(load.bulk_ingest(port, token, run_bodies, 4)["rate"])
            if seconds:
                single = load.single_posts(port, token, tenants, seconds)
                rates["single"][enabled].append(single["rate"])
    return rates


def bodies_per_run(factory: EventFactory, make_bodies, events: int) -> list[list[bytes]]:
    return [make_bodies(factory, events) for _ in ORDER]


def rows(rates: dict, events: int, seconds: int) -> list[str]:
    lines = []
    labels = {
        "bulk": f"bulk ingest, {LABEL} on / off ({events:,} events a run, 1000/request, 4 clients)",
        "single": f"single POST, {LABEL} on / off (32 clients, {seconds} s a run)",
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
