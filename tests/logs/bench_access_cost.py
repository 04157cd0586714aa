"""Micro-benchmark: what recording access events costs list and get requests.

Not part of the suite (the file name does not start with `test_`); run it by
path, alone, on a quiet moment:

    DJANGO_SETTINGS_MODULE=auditlog_project.settings.test \
        .venv/bin/pytest -q -p no:cacheprovider -s tests/logs/bench_access_cost.py

In process (Django's test client, real JWT, real PostgreSQL with COMMITs: a
transactional test), so the difference is the event's INSERT, its share of
the COMMIT (a WAL flush: a read-only transaction needs none) and the
after-commit hand-off. Rounds alternate with and without recording (the
recorder replaced by a no-op) so that the machine's noise falls on both.
"""

from __future__ import annotations

import statistics
import time

import pytest

from logs import audit
from tests.logs.conftest import event_body, seed

ROUNDS = 4
REQUESTS = 100


def timed(call, n: int) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        response = call()
        out.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200
    return out


def summary(samples: list[float]) -> str:
    q = statistics.quantiles(samples, n=20)
    return f"p50 {statistics.median(samples):.2f} / p95 {q[18]:.2f} ms (n={len(samples)})"


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(900)
def test_access_event_cost(parties, monkeypatch):
    ids = seed(parties, "tenant-a", [event_body(message=f"m{i}") for i in range(500)])
    client = parties.client("a_auditor")
    calls = {
        "list (page of 50)": lambda: client.get("/api/v1/logs", {"page_size": "50"}),
        "get by id": lambda: client.get(f"/api/v1/logs/{ids[7]}"),
    }
    real = audit.record_read
    results: dict[tuple[str, bool], list[float]] = {}
    for name, call in calls.items():
        timed(call, 30)  # warm up: connections, caches, code paths
        for round_ in range(ROUNDS):
            for recording in (round_ % 2 == 0, round_ % 2 == 1):
                monkeypatch.setattr(audit, "record_read", real if recording else lambda **_: None)
                results.setdefault((name, recording), []).extend(timed(call, REQUESTS))
    monkeypatch.setattr(audit, "record_read", real)
    for name in calls:
        on, off = results[(name, True)], results[(name, False)]
        delta = statistics.median(on) - statistics.median(off)
        print(
            f"\n{name}: with access events {summary(on)}; without {summary(off)}; "
            f"median +{delta:.2f} ms"
        )
