"""The Redis-outage policy (docs/operations.md#when-redis-is-down), against a private
redis-server that each test stops and starts again; never the machine's Redis.

While Redis is down, limits and slots are counted per process: logins never
answer 500 and stay throttled, reads stay limited, writes go on, exports are
capped; the outage is logged once. When Redis is back, counting returns to it.
"""

from __future__ import annotations

import logging
import time

import pytest

from auditlog_project import ratelimits
from tests.fixtures import PASSWORD, make_user, password_login
from tests.logs.conftest import event_body, stored
from tests.ratelimit_helpers import assert_throttled, window
from tests.redis_server import PrivateRedis

pytestmark = pytest.mark.django_db

LIST = "/api/v1/logs"


@pytest.fixture
def private_redis(settings):
    server = PrivateRedis()
    server.start()
    settings.REDIS_URL = server.url
    settings.CACHES = {
        "default": {**settings.CACHES["default"], "LOCATION": server.url},
    }
    yield server
    server.close()


def login(username: str, password: str = PASSWORD, ip: str = "10.20.0.1"):
    return password_login(username, password, ip)


def counters_in_redis(server: PrivateRedis, settings) -> list[bytes]:
    """The rate-limit keys in Redis (not the access cache's, under the same prefix)."""
    keys = server.client().keys(f"{settings.RATE_LIMIT_KEY_PREFIX}:*")
    return [key for key in keys if b":access:" not in key]


def until_counted_in_redis(server: PrivateRedis, settings, request, timeout: float = 10):
    """Repeat `request()` until its counters land in Redis again; its last answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = request()
        if counters_in_redis(server, settings):
            return response
        time.sleep(0.1)
    raise AssertionError(f"counters did not return to Redis within {timeout}s")


def test_login_never_answers_500_and_stays_throttled_while_redis_is_down(
    private_redis, settings, caplog
):
    settings.LOGIN_RATE_PER_USERNAME = window(5)
    make_user("carol")
    assert login("carol").status_code == 200
    assert counters_in_redis(private_redis, settings)  # counted in Redis while it is up
    private_redis.stop()
    with caplog.at_level(logging.WARNING, logger="auditlog_project.ratelimits"):
        assert login("carol").status_code == 200  # logins go on
        for attempt in range(5):
            assert login("carol", "wrong-guess", ip=f"10.21.0.{attempt}").status_code == 401
        assert_throttled(login("carol ", ip="10.21.1.1"))  # per process, still throttled
    outages = [r for r in caplog.records if r.getMessage().startswith("Redis unreachable")]
    assert len(outages) == 1  # logged when the outage starts, not on every request
    private_redis.start()
    # Back in Redis (which restarted empty): the per-process failures are forgotten.
    response = until_counted_in_redis(private_redis, settings, lambda: login("carol"))
    assert response.status_code == 200
    assert "Redis reachable again" in caplog.text


def test_reads_stay_limited_and_writes_go_on_while_redis_is_down(private_redis, parties, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "read": {"user": window(3), "tenant": "1000/m"}}
    alice = parties.client("a_admin")
    private_redis.stop()
    for _ in range(3):
        assert alice.get(LIST).status_code == 200
    assert_throttled(alice.get(LIST))
    for _ in range(5):
        assert alice.post(LIST, event_body(), format="json").status_code == 201
    # The 5 writes, beside the 3 reads' own access events.
    assert len([e for e in stored("tenant-a") if e["action"] != "SEARCH"]) == 5
    private_redis.start()
    response = until_counted_in_redis(
        private_redis, settings, lambda: parties.client("a_auditor").get(LIST)
    )
    assert response.status_code == 200
    assert alice.get(LIST).status_code == 200  # a new count in Redis, from zero


def test_concurrent_exports_stay_capped_while_redis_is_down(private_redis, parties, settings):
    settings.CONCURRENCY_PER_TENANT = {"export": 1}
    private_redis.stop()
    running = parties.client("a_admin").get("/api/v1/logs/export")
    assert running.status_code == 200
    assert_throttled(parties.client("a_auditor").get("/api/v1/logs/export"), max_wait=5)
    b"".join(running.streaming_content)  # closed: its place in this process is free
    finished = parties.client("a_auditor").get("/api/v1/logs/export")
    assert finished.status_code == 200
    b"".join(finished.streaming_content)


def test_a_slot_taken_in_redis_is_released_quietly_when_redis_is_gone(private_redis):
    slot = ratelimits.acquire_slot("stream:user:1", 1, 60)
    assert slot is not None and slot.store is not ratelimits._PROCESS
    private_redis.stop()
    slot.release()  # logged, not raised: the holder expires in Redis
    assert slot.released


def test_places_under_several_caps_stay_all_or_nothing_while_redis_is_down(private_redis):
    private_redis.stop()
    first = ratelimits.acquire_slots([("stream:tenant:t", 2), ("stream:user:1", 1)], 60)
    assert first.store is ratelimits._PROCESS
    with pytest.raises(ratelimits.CapReached) as refused:
        ratelimits.acquire_slots([("stream:tenant:t", 2), ("stream:user:1", 1)], 60)
    assert refused.value.key == "stream:user:1"
    # The refused one took no place under the tenant's cap: a second user still fits.
    second = ratelimits.acquire_slots([("stream:tenant:t", 2), ("stream:user:2", 1)], 60)
    with pytest.raises(ratelimits.CapReached) as full:
        ratelimits.acquire_slots([("stream:tenant:t", 2), ("stream:user:3", 1)], 60)
    assert full.value.key == "stream:tenant:t"
    ratelimits.refresh_slot(first, 60)
    ratelimits.release_slot(first)
    ratelimits.release_slot(second)
    assert ratelimits.acquire_slots([("stream:tenant:t", 1), ("stream:user:1", 1)], 60)


def test_a_slot_taken_in_redis_is_refreshed_quietly_when_redis_is_gone(private_redis, caplog):
    slot = ratelimits.acquire_slots([("stream:user:1", 1)], 60)
    assert slot.store is not ratelimits._PROCESS
    private_redis.stop()
    with caplog.at_level(logging.WARNING, logger="auditlog_project.ratelimits"):
        ratelimits.refresh_slot(slot, 60)  # logged, not raised: the holder expires in Redis
    assert "not refreshed" in caplog.text


def test_the_cache_is_not_on_the_request_path(private_redis, parties):
    """Policy for the Django cache: no request depends on it; readiness names Redis."""
    private_redis.stop()
    ready = parties.client(None).get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["redis"]["status"] == "down"
    assert parties.client("a_admin").get(LIST).status_code == 200


def test_a_redis_that_hangs_costs_a_timeout_not_a_hung_request(private_redis):
    """A stopped (SIGSTOP) Redis accepts connections and never answers: the
    limiter's client times out and counts in the process instead of waiting."""
    import os
    import signal
    import threading

    results: list = []
    os.kill(private_redis.proc.pid, signal.SIGSTOP)
    try:
        worker = threading.Thread(
            target=lambda: results.append(
                ratelimits.refusal([ratelimits.Limit("hang-probe", window(1))])
            ),
            daemon=True,
        )
        worker.start()
        worker.join(timeout=10)  # the deadline: far above the client's 0.5 s timeouts
        assert not worker.is_alive(), "the limiter waited on a hung Redis"
        assert results == [None]  # let through, counted in this process
        assert ratelimits.refusal([ratelimits.Limit("hang-probe", window(1))]) is not None
    finally:
        os.kill(private_redis.proc.pid, signal.SIGCONT)
