"""The cost of masking per event, in process: `python scripts/masking_cost.py`.

Validates the same realistic events (the bench's generator, plus nested
before/after snapshots and HTTP headers, 2% of them holding a secret) with
the built-in masking on, with it off, and with a tenant policy (key names,
two RE2 patterns, e-mails), and prints the median time per event of several
runs of each, and masking's share of validation. Figures in docs/performance.md.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "scripts" / "bench")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "auditlog_project.settings.test")
os.environ.setdefault("TEST_RUN_ID", "masking_cost")

SECRETS = [
    {"metadata": {"password": "hunter2"}},
    {"message": "paid with 4242 4242 4242 4242"},
    {"user_agent": "client Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"},
    {"before": {"card": {"number": "5555555555554444"}}},
]


def events(count: int) -> list[dict]:
    from data import EventFactory, tenant_ids

    factory = EventFactory(seed=7, tenants=tenant_ids(10), now=datetime.now(UTC))
    rng = factory.rng
    made = []
    for index in range(count):
        event = factory.event("bench-000")
        if index % 3 == 0:
            event["before"] = {"user": {"name": "Ann Lee", "role": "editor", "team": "billing"}}
            event["after"] = {"user": {"name": "Ann Lee", "role": "admin", "team": "billing"}}
            event["metadata"]["headers"] = {"accept": "application/json", "x-request-id": "abc"}
        if rng.random() < 0.02:
            event.update(copy.deepcopy(rng.choice(SECRETS)))
        made.append(event)
    return made


def per_event_us(sample: list[dict], masker) -> float:
    from logs.validation import parse_event

    batch = copy.deepcopy(sample)
    now = datetime.now(UTC)
    started = time.process_time()  # CPU time: less sensitive to a busy machine
    for event in batch:
        parse_event(event, now=now, masker=masker)
    return (time.process_time() - started) / len(batch) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    import django

    django.setup()
    from masking.engine import Masker
    from masking.patterns import TenantPatterns

    sample = events(args.events)
    tenant = Masker(
        extra_keys=["employee_ref", "*_pin"],
        patterns=TenantPatterns.build([("badge", r"BDG-[0-9]{5}"), ("ticket", r"TCK[0-9]{8}")]),
        emails=True,
    )
    maskers = {"off": Masker(builtin=False), "built-in": Masker(), "built-in + tenant": tenant}
    times: dict[str, list[float]] = {name: [] for name in maskers}
    for _ in range(args.runs):  # interleaved, so drift weighs on each alike
        for name, masker in maskers.items():
            times[name].append(per_event_us(sample, masker))
    off = statistics.median(times["off"])
    print(f"{args.events} events, median of {args.runs} runs, validation CPU time per event:")
    for name, values in times.items():
        median = statistics.median(values)
        print(
            f"  {name:18s} {median:7.1f} us  (masking {median - off:+6.1f} us, "
            f"{(median - off) / off:+.0%} of validation)"
        )


if __name__ == "__main__":
    main()
