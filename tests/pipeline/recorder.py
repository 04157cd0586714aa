"""Consumers for the pipeline tests.

`CONSUMER` records, in this process, every batch it is handed (the
out-of-order and failure tests read `HANDLED`). `LEDGER` is for tests with
real worker processes: it counts each delivered event in Redis (a hash per
run, key PIPELINE_LEDGER_KEY), so a test can check that every event arrived
(at least once) and which arrived more than once; PIPELINE_LEDGER_DELAY
seconds of sleep per drain give a test time to kill a worker mid-batch.
`FAILING` fails on batches of tenants listed in FAILING_TENANTS.
"""

from __future__ import annotations

import os
import time

from django.conf import settings
from redis import Redis

from pipeline.consumers import Consumer

HANDLED: list = []
FAILING_TENANTS: set[str] = set()


def _record(batches) -> None:
    HANDLED.extend(batches)


def _fail_some(batches) -> None:
    for batch in batches:
        if batch.tenant_id in FAILING_TENANTS:
            raise RuntimeError(f"poison batch {batch.id}")
    HANDLED.extend(batches)


def _count_in_redis(batches) -> None:
    key = os.environ["PIPELINE_LEDGER_KEY"]
    redis = Redis.from_url(settings.REDIS_URL)
    delay = float(os.environ.get("PIPELINE_LEDGER_DELAY", "0"))
    if delay:
        redis.incr(f"{key}:started")
        time.sleep(delay)
    pipe = redis.pipeline()
    for batch in batches:
        for row in batch.rows:
            pipe.hincrby(key, str(row["id"]), 1)
    pipe.execute()


CONSUMER = Consumer(name="test-recorder", handle=_record)
FAILING = Consumer(name="test-failing", handle=_fail_some)
LEDGER = Consumer(name="test-ledger", handle=_count_in_redis)
