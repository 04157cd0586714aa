"""A/B probe: CPU per ingest request, in process (copied into a worktree by run.sh).

Measures, for single and bulk POSTs through the whole Django stack with real
COMMITs: this process's CPU (time.process_time), the PostgreSQL backend's CPU
(/proc/<pid>/stat), wall time and queries per request. CPU time is far less
sensitive to other load on the machine than throughput is, and running the
commits side by side (run.sh A B ...) gives each the same load. Redis CPU comes
from a private redis-server per run. Written to work at older commits too: it
uses only the API, the `parties` fixture and scripts/bench/data.py.
"""

import json
import os
import sys
import time
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

sys.path.insert(0, os.getcwd())
from scripts.bench.data import EventFactory  # noqa: E402

pytestmark = pytest.mark.django_db(transaction=True)
TICK = os.sysconf("SC_CLK_TCK")
OUT = os.environ["COST_OUT"]  # set by run.sh


def backend_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def run(client, path, bodies):
    with connection.cursor() as c:
        c.execute("SELECT pg_backend_pid()")
        pid = c.fetchone()[0]
    rpid = int(os.environ.get("REDIS_PID", "0"))
    r0 = backend_cpu(rpid) if rpid else None
    b0, p0, w0 = backend_cpu(pid), time.process_time(), time.perf_counter()
    for body in bodies:
        r = client.post(path, data=body, content_type="application/json")
        assert r.status_code in (200, 201), (r.status_code, r.content[:300])
    return {
        "py_cpu": time.process_time() - p0,
        "pg_cpu": backend_cpu(pid) - b0,
        "wall": time.perf_counter() - w0,
        "redis_cpu": (backend_cpu(rpid) - r0) if rpid else None,
    }


def test_cost(parties):
    client = parties.client("a_admin")
    tenant = parties.tenant_a.id
    rounds = int(os.environ.get("COST_ROUNDS", "3"))
    result = {"commit": os.environ.get("COST_COMMIT", "?")}
    factory = EventFactory(7, [tenant], datetime.now(UTC), days=2)
    singles = [json.dumps(factory.event(tenant, with_id=False)) for _ in range(600 * rounds)]
    bulks = [
        json.dumps({"tenant_id": tenant, "events": [factory.event(tenant) for _ in range(1000)]})
        for _ in range(12 * rounds)
    ]
    # warm up, and count queries of one request of each kind
    run(client, "/api/v1/logs", singles[:50])
    with CaptureQueriesContext(connection) as q:
        run(client, "/api/v1/logs", singles[50:51])
    result["single_queries"] = len(q.captured_queries)
    with CaptureQueriesContext(connection) as q:
        run(client, "/api/v1/logs/bulk", bulks[:1])
    result["bulk_queries"] = len(q.captured_queries)
    single, bulk = [], []
    for r in range(rounds):
        single.append(run(client, "/api/v1/logs", singles[51 + r * 500 : 51 + (r + 1) * 500]))
        bulk.append(run(client, "/api/v1/logs/bulk", bulks[1 + r * 10 : 1 + (r + 1) * 10]))
    # per request (single, 500 requests) and per 1000-event bulk request; min over rounds
    for name, rows, n in (("single", single, 500), ("bulk", bulk, 10)):
        for key in ("redis_cpu",):
            if rows[0].get(key) is not None:
                result[f"{name}_{key}_ms"] = round(min(r[key] for r in rows) / n * 1000, 3)
        for key in ("py_cpu", "pg_cpu", "wall"):
            result[f"{name}_{key}_ms"] = round(min(r[key] for r in rows) / n * 1000, 3)
    with open(OUT, "a") as f:
        f.write(json.dumps(result) + "\n")
    print(result)
