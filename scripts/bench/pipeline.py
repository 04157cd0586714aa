"""The event pipeline's rows: ingest cost of announcing, drain throughput, end-to-end lag.

    python scripts/bench/pipeline.py [--rate 200] [--seconds 20] [--cost-batches 300]
        [--batch 10] [--writers 1]

In a database of its own (auditlog_bench_pipeline), with a moto server on
SQS_ENDPOINT_URL (started if nothing answers there):

- Ingest cost of announcing: the ingest service (the request's own work: one
  INSERT statement and COMMIT, then the after-commit hooks) for batches of 1
  and of 100 events, with PIPELINE_ANNOUNCE on and off, interleaved run by
  run so machine noise hits both alike. Ratio = on / off (median).
- Pipeline throughput: events/s one drain of the search-index consumer (the
  PostgreSQL backend: loading the batches' rows is the work) gets through,
  from a backlog of committed batches.
- End-to-end lag: a real Celery worker on SQS; `--writers` threads (each its
  own connection) commit batches of `--batch` events, together at `--rate`
  events/s, for `--seconds`; lag = from a batch's COMMIT to the consumer's
  watermark covering it (OpenSearch is absent here, so "indexed" is "the
  search-index consumer's watermark advanced"), p50/p95. The rate printed is
  the one achieved (events committed / seconds), which is below `--rate`
  when the writers cannot keep up.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts" / "bench"))

import seed  # noqa: E402
import servers  # noqa: E402

DATABASE = os.environ.get("PIPELINE_BENCH_DATABASE", "auditlog_bench_pipeline")
APP_URL = f"postgres://auditlog_app@127.0.0.1:5432/{DATABASE}"
OWNER_URL = f"postgres://auditlog_owner@127.0.0.1:5432/{DATABASE}"
TENANT = "bench-pipeline"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ingest(size: int) -> tuple[float, int, datetime]:
    """One committed batch through the service; (seconds, xid, commit time)."""
    from django.db import connection, transaction

    from logs import services
    from logs.validation import parse_bulk
    from tenants.models import Tenant
    from tenants.scoping import TenantAccess, activate

    now = datetime.now(UTC)
    items = [
        {
            "id": str(uuid.uuid4()),
            "user_id": "u",
            "action": "LOGIN",
            "resource_type": "s",
            "message": "bench pipeline event",
        }
        for _ in range(size)
    ]
    events = parse_bulk({"events": items}, now=now, max_events=1000, oldest=now - timedelta(1))
    access = TenantAccess(tenant=Tenant(id=TENANT, name=TENANT), role="admin", username="b")
    started = time.perf_counter()
    with transaction.atomic():
        activate(TENANT)
        services.event_bulk_create(access=access, events=events)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_current_xact_id()::text::bigint")
            xid = cursor.fetchone()[0]
    return time.perf_counter() - started, xid, datetime.now(UTC)


def announce_cost(settings, batches: int) -> dict:
    from pipeline import announce

    out = {}
    for size in (1, 100):
        on, off = [], []
        for i in range(batches):
            for flag, bucket in ((i % 2 == 0, on), (i % 2 == 1, off)):
                settings.PIPELINE_ANNOUNCE = flag
                bucket.append(ingest(size)[0])
        settings.PIPELINE_ANNOUNCE = True
        announce.flush(30)
        out[size] = {
            "on_ms": statistics.median(on) * 1000,
            "off_ms": statistics.median(off) * 1000,
            "ratio": statistics.median(on) / statistics.median(off),
        }
    return out


def throughput(events: int) -> dict:
    from pipeline import drain
    from pipeline.consumers import by_name

    consumer = by_name("search-index")
    while drain.drain(consumer).more:  # start from an empty backlog
        pass
    for _ in range(events // 100):
        ingest(100)
    started, handled = time.perf_counter(), 0
    while True:
        result = drain.drain(consumer, max_batches=100)
        handled += result.events
        if not result.more:
            break
    seconds = time.perf_counter() - started
    return {"events": handled, "seconds": seconds, "rate": handled / seconds}


def lag(env: dict, rate: int, seconds: int, per_batch: int = 10, writers: int = 1) -> dict:
    from pipeline import announce
    from pipeline.models import ConsumerState
    from pipeline.watermark import Snapshot

    committed: list[tuple[int, datetime]] = []
    seen: dict[int, datetime] = {}
    stop = threading.Event()

    def watch() -> None:
        from django.db import connection

        taken = 0
        unseen: list[int] = []  # only these are checked: the loop stays cheap at 1,000/s
        while not stop.is_set() or len(seen) < len(committed):
            mark = (
                ConsumerState.objects.filter(name="search-index")
                .values_list("watermark", flat=True)
                .first()
            )
            now = datetime.now(UTC)
            arrived = len(committed)
            unseen.extend(xid for xid, _ in committed[taken:arrived])
            taken = arrived
            if mark:
                snap = Snapshot.parse(mark)
                for xid in [x for x in unseen if snap.visible(x)]:
                    seen[xid] = now
                unseen = [x for x in unseen if x not in seen]
            if stop.is_set() and time.monotonic() > deadline:
                break
            time.sleep(0.01)
        connection.close()

    args = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "auditlog_project",
        "worker",
        "--pool",
        "solo",
        "--queues",
        "default",
        "--loglevel",
        "WARNING",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    from pipeline.tasks import drain

    with servers.process("pipeline-worker", args, env):
        before = (
            ConsumerState.objects.filter(name="search-index")
            .values_list("updated_at", flat=True)
            .first()
        )
        drain.delay()  # measure from a worker that is up and polling
        for _ in range(600):
            now_at = (
                ConsumerState.objects.filter(name="search-index")
                .values_list("updated_at", flat=True)
                .first()
            )
            if now_at != before:
                break
            time.sleep(0.1)
        deadline = time.monotonic() + seconds + 60
        watcher = threading.Thread(target=watch)
        watcher.start()
        interval = per_batch * writers / rate  # each writer's share of the rate
        started = time.monotonic()
        end = started + seconds

        def write() -> None:
            from django.db import connection

            next_at = time.monotonic()
            while time.monotonic() < end:
                _, xid, at = ingest(per_batch)
                committed.append((xid, at))  # list.append is atomic
                next_at += interval
                time.sleep(max(0.0, next_at - time.monotonic()))
            connection.close()

        threads = [threading.Thread(target=write) for _ in range(writers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        announce.flush(30)
        stop.set()
        watcher.join(90)
    lags = [(seen[xid] - at).total_seconds() * 1000 for xid, at in committed if xid in seen]
    return {
        "batches": len(committed),
        "events": len(committed) * per_batch,
        "rate": rate,
        "achieved": len(committed) * per_batch / elapsed,
        "covered": len(lags),
        "p50_ms": percentile(lags, 0.5) if lags else None,
        "p95_ms": percentile(lags, 0.95) if lags else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=int, default=200, help="events/s for the lag run")
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--cost-batches", type=int, default=300)
    parser.add_argument("--throughput-events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=10, help="events per committed batch")
    parser.add_argument("--writers", type=int, default=1, help="threads committing batches")
    args = parser.parse_args()
    env = servers.env_for(APP_URL, {"PIPELINE_SWEEP_SECONDS": "3600"})
    with servers.sqs(os.environ.get("SQS_ENDPOINT_URL", "")):
        seed.recreate(DATABASE, "auditlog_owner")
        seed.migrate(OWNER_URL, env, days_behind=1)
        subprocess.run(
            [sys.executable, "manage.py", "sqs_setup"],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        os.environ.update(env)
        import django

        django.setup()
        from django.conf import settings

        from tenants.models import Tenant

        Tenant.objects.get_or_create(id=TENANT, defaults={"name": TENANT})

        cost = announce_cost(settings, args.cost_batches)
        for size, row in cost.items():
            print(
                f"announce cost, batch of {size}: on {row['on_ms']:.2f} ms, "
                f"off {row['off_ms']:.2f} ms, ratio {row['ratio']:.2f}",
                flush=True,
            )
        thr = throughput(args.throughput_events)
        print(
            f"drain throughput: {thr['events']} events in {thr['seconds']:.2f} s = "
            f"{thr['rate']:,.0f} events/s",
            flush=True,
        )
        end_to_end = lag(env, args.rate, args.seconds, args.batch, args.writers)
        print(
            f"end-to-end lag, asked {args.rate} events/s, achieved "
            f"{end_to_end['achieved']:,.0f} events/s ({args.writers} writer(s), batches of "
            f"{args.batch}) for {args.seconds} s: "
            f"{end_to_end['covered']}/{end_to_end['batches']} batches covered, "
            f"p50 {end_to_end['p50_ms']:.0f} ms, p95 {end_to_end['p95_ms']:.0f} ms",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
