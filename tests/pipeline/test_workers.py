"""The pipeline for real: concurrent commits, SQS, separate worker processes.

Every event of a concurrent ingest run reaches the consumer exactly once in
effect (the ledger consumer counts deliveries per event in Redis), also when
a worker is SIGKILLed mid-batch, when messages are dropped (the sweep
catches up) and when they are duplicated (a second drain finds nothing).
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid

import pytest
from django.db import connection
from redis import Redis

from pipeline import announce
from pipeline.selectors import consumer_lags
from pipeline.tasks import drain, sweep
from tenants.models import Tenant
from tests.fixtures import empty_queue
from tests.pipeline.test_drain_helpers import ingest_in_test_transaction
from tests.processes import celery_worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(300)]


@pytest.fixture
def ledger(settings, test_env, sqs_queues):
    """The worker environment with the ledger consumer, and the ledger's reader."""
    key = f"{settings.CACHES['default']['KEY_PREFIX']}:ledger:{uuid.uuid4().hex[:10]}"
    settings.PIPELINE_CONSUMERS = ["tests.pipeline.recorder.LEDGER"]
    env = {**test_env, "PIPELINE_CONSUMERS": "tests.pipeline.recorder.LEDGER"}
    env["PIPELINE_LEDGER_KEY"] = key
    redis = Redis.from_url(settings.REDIS_URL)
    for tenant in ("tenant-a", "tenant-b"):
        Tenant.objects.create(id=tenant, name=tenant)
    empty_queue()
    yield env, key, redis
    redis.delete(key, f"{key}:started")


def concurrent_ingest(threads: int = 4, requests: int = 6, size: int = 15) -> list[str]:
    """Commit `threads * requests` batches from concurrent transactions; every id."""
    ids: list[str] = []
    lock = threading.Lock()

    def writer(n: int) -> None:
        try:
            for _ in range(requests):
                stored = ingest_in_test_transaction("tenant-a" if n % 2 else "tenant-b", size)
                with lock:
                    ids.extend(stored)
        finally:
            connection.close()

    workers = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(60)
    announce.flush()
    return ids


def wait_for(condition, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def delivered(redis: Redis, key: str) -> dict[str, int]:
    return {k.decode(): int(v) for k, v in redis.hgetall(key).items()}


def pending_events() -> int:
    return next(lag["pending_events"] for lag in consumer_lags())


def test_a_concurrent_ingest_reaches_the_consumer_exactly_once(ledger):
    env, key, redis = ledger
    with celery_worker(env):
        ids = concurrent_ingest()
        wait_for(lambda: len(delivered(redis, key)) >= len(ids) and pending_events() == 0)
    counts = delivered(redis, key)
    assert sorted(counts) == sorted(ids)
    assert set(counts.values()) == {1}


def test_a_worker_killed_mid_batch_loses_nothing(ledger):
    env, key, redis = ledger
    ids = concurrent_ingest(threads=2, requests=3, size=10)
    with celery_worker({**env, "PIPELINE_LEDGER_DELAY": "30"}) as worker:
        wait_for(lambda: int(redis.get(f"{key}:started") or 0) >= 1)
        os.killpg(worker.pid, signal.SIGKILL)  # mid-batch: inside the handler
        worker.wait(10)
    assert delivered(redis, key) == {}
    assert pending_events() == len(ids)  # its transaction died with it: nothing passed
    with celery_worker(env):
        sweep.delay()  # the beat sweep (the killed message waits for its visibility timeout)
        wait_for(lambda: pending_events() == 0)
    counts = delivered(redis, key)
    assert sorted(counts) == sorted(ids)
    assert set(counts.values()) == {1}


def test_dropped_and_duplicated_messages_change_nothing(ledger):
    env, key, redis = ledger
    ids = concurrent_ingest(threads=2, requests=3, size=10)
    assert empty_queue() >= 1  # every announcement dropped
    assert pending_events() == len(ids)
    for _ in range(3):  # a message delivered three times
        drain.delay(tenant_id="tenant-a", kind="insert", events=10)
    with celery_worker(env):
        wait_for(lambda: pending_events() == 0)
        more = concurrent_ingest(threads=1, requests=2, size=5)
        empty_queue()  # dropped again: only the sweep is left to find them
        sweep.delay()
        wait_for(lambda: pending_events() == 0)
    counts = delivered(redis, key)
    assert sorted(counts) == sorted(ids + more)
    assert set(counts.values()) == {1}
