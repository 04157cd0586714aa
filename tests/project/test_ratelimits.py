"""API rate limits answer 429 with Retry-After, per principal, per tenant and per
kind of request (read, write, stats, export), and concurrent exports are capped
per tenant until a response is closed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from auditlog_project import ratelimits
from tests.logs.conftest import event_body, stored
from tests.ratelimit_helpers import assert_throttled, hang_up, window

pytestmark = pytest.mark.django_db

LIST = "/api/v1/logs"
STATS = "/api/v1/logs/stats"
EXPORT = "/api/v1/logs/export"
UNLIMITED = "1000000/m"


@pytest.fixture
def limit(settings):
    """`limit("read", user="3/h")`: the limits of one kind for this test."""

    def set_limits(kind: str, *, user: str = UNLIMITED, tenant: str = UNLIMITED) -> None:
        settings.RATE_LIMITS = {**settings.RATE_LIMITS, kind: {"user": user, "tenant": tenant}}

    return set_limits


def export(client, **params):
    return client.get(EXPORT, {"format": "ndjson", **params})


def consume(response) -> bytes:
    return b"".join(response.streaming_content)


def test_reads_past_the_per_user_limit_are_429_for_that_user_only(parties, limit):
    limit("read", user=window(3))
    alice = parties.client("a_admin")
    for _ in range(3):
        assert alice.get(LIST).status_code == 200
    assert_throttled(alice.get(LIST))
    assert_throttled(alice.get(f"{LIST}/00000000-0000-4000-8000-000000000000"))  # get one too
    assert parties.client("a_auditor").get(LIST).status_code == 200


def test_reads_past_the_per_tenant_limit_are_429_for_that_tenant_only(parties, limit):
    limit("read", tenant=window(4))
    for name in ("a_admin", "a_admin", "a_auditor", "a_auditor"):
        assert parties.client(name).get(LIST).status_code == 200
    response = parties.client("a_user").get(LIST)
    assert_throttled(response)
    assert "read" in response.json()["detail"]
    assert parties.client("b_admin").get(LIST).status_code == 200


def test_stats_have_limits_of_their_own(parties, limit):
    limit("stats", user=window(2), tenant=window(3))
    alice, auditor = parties.client("a_admin"), parties.client("a_auditor")
    assert alice.get(STATS).status_code == 200
    assert alice.get(STATS).status_code == 200
    assert_throttled(alice.get(STATS))  # alice's own limit
    assert alice.get(LIST).status_code == 200  # reads are counted apart
    assert auditor.get(STATS).status_code == 200
    assert_throttled(parties.client("a_user").get(STATS))  # the tenant's limit
    assert parties.client("b_admin").get(STATS).status_code == 200


def test_exports_have_limits_of_their_own(parties, limit):
    limit("export", user=window(1), tenant=window(2))
    alice = parties.client("a_admin")
    consume(export(alice))
    assert_throttled(export(alice))
    assert alice.get(STATS).status_code == 200
    consume(export(parties.client("a_auditor")))
    assert_throttled(export(parties.client("a_user")))
    consume(export(parties.client("b_admin")))


def test_a_refused_write_stores_nothing(parties, limit):
    limit("write", user=window(2))
    alice = parties.client("a_admin")
    for _ in range(2):
        assert alice.post(LIST, event_body(), format="json").status_code == 201
    assert_throttled(alice.post(LIST, event_body(), format="json"))
    bulk = {"tenant_id": "tenant-a", "events": [event_body(tenant_id=...)]}
    assert_throttled(alice.post(f"{LIST}/bulk", bulk, format="json"))
    assert len(stored("tenant-a")) == 2
    assert alice.get(LIST).status_code == 200  # writes and reads are counted apart


def test_endpoints_outside_a_tenant_are_limited_per_principal(parties, limit):
    limit("read", user=window(2))
    alice = parties.client("a_admin")
    assert alice.get("/api/v1/auth/me").status_code == 200
    assert alice.get("/api/v1/auth/me").status_code == 200
    assert_throttled(alice.get("/api/v1/auth/me"))
    assert parties.client("a_auditor").get("/api/v1/auth/me").status_code == 200


def test_concurrent_exports_per_tenant_are_capped_until_one_is_closed(parties, settings):
    settings.CONCURRENCY_PER_TENANT = {"export": 2}
    first = export(parties.client("a_admin"))  # streamed, not read yet: still running
    second = export(parties.client("a_auditor"))
    assert (first.status_code, second.status_code) == (200, 200)
    refused = export(parties.client("a_user"))
    assert assert_throttled(refused, max_wait=ratelimits.CONCURRENCY_RETRY_AFTER)
    assert "2 concurrent export" in refused.json()["detail"]
    consume(export(parties.client("b_admin")))  # another tenant's places are its own
    consume(first)  # the last byte is out: the place is free
    third = export(parties.client("a_user"))
    assert third.status_code == 200
    assert_throttled(export(parties.client("a_user")))
    hang_up(second)  # the client went away without reading
    consume(export(parties.client("a_user")))
    consume(second)
    consume(third)


def test_an_export_that_fails_mid_stream_frees_its_place(parties, settings, monkeypatch):
    settings.CONCURRENCY_PER_TENANT = {"export": 1}

    def broken(**kwargs):
        yield b"first block\n"
        raise RuntimeError("database went away")

    monkeypatch.setattr("logs.export.export_stream", broken)
    content = iter(export(parties.client("a_admin")).streaming_content)
    assert next(content) == b"first block\n"
    assert_throttled(export(parties.client("a_admin")))
    with pytest.raises(RuntimeError):
        next(content)
    monkeypatch.undo()
    consume(export(parties.client("a_admin")))


def test_an_export_refused_before_streaming_holds_no_place(parties, settings):
    settings.CONCURRENCY_PER_TENANT = {"export": 1}
    alice = parties.client("a_admin")
    assert alice.get(EXPORT, {"format": "xml"}).status_code == 400
    assert alice.get(EXPORT, {"colour": "blue"}).status_code == 400
    consume(export(alice))


def test_slots_cap_holders_and_free_on_release():
    first = ratelimits.acquire_slot("probe", 2, 60)
    second = ratelimits.acquire_slot("probe", 2, 60)
    assert first and second
    assert ratelimits.acquire_slot("probe", 2, 60) is None
    ratelimits.release_slot(first)
    ratelimits.release_slot(first)  # twice is harmless
    third = ratelimits.acquire_slot("probe", 2, 60)
    assert third is not None
    assert ratelimits.acquire_slot("probe", 2, 60) is None
    assert ratelimits.acquire_slot("another", 1, 60) is not None


def test_a_holder_that_never_releases_expires(settings):
    assert ratelimits.acquire_slot("crashed", 1, 1) is not None
    assert ratelimits.acquire_slot("crashed", 1, 1) is None
    client = ratelimits._redis_store(settings.REDIS_URL).client
    key = f"{settings.RATE_LIMIT_KEY_PREFIX}:slot:crashed"
    (holder,) = client.zrange(key, 0, -1)
    client.zadd(key, {holder: 0})  # its expiry is in the past, as after a crash
    assert ratelimits.acquire_slot("crashed", 1, 1) is not None


def slot_key(settings, key: str) -> str:
    return f"{settings.RATE_LIMIT_KEY_PREFIX}:slot:{key}"


def test_a_place_under_several_caps_is_taken_under_all_of_them_or_none(settings):
    client = ratelimits.redis_client()
    user = ratelimits.acquire_slots([("user:1", 1)], 60)
    with pytest.raises(ratelimits.CapReached) as refused:
        ratelimits.acquire_slots([("tenant:t", 5), ("user:1", 1)], 60)
    assert refused.value.key == "user:1"  # the full cap is named...
    assert client.zcard(slot_key(settings, "tenant:t")) == 0  # ...and the other not taken
    both = ratelimits.acquire_slots([("tenant:t", 5), ("user:2", 1)], 60)
    assert [client.zcard(slot_key(settings, k)) for k in ("tenant:t", "user:2")] == [1, 1]
    assert 0 < client.ttl(slot_key(settings, "tenant:t")) <= 61  # the set outlives its holder
    ratelimits.release_slot(both)
    assert [client.zcard(slot_key(settings, k)) for k in ("tenant:t", "user:2")] == [0, 0]
    ratelimits.release_slot(user)


def test_a_refreshed_place_outlives_its_first_ttl(settings):
    client = ratelimits.redis_client()
    slot = ratelimits.acquire_slots([("beating", 1)], 60)
    client.zadd(slot_key(settings, "beating"), {slot.holder: 0})  # its first ttl is over
    ratelimits.refresh_slot(slot, 60)
    assert ratelimits.acquire_slot("beating", 1, 60) is None  # still held


def test_a_late_refresh_does_not_take_back_an_expired_place(settings):
    client = ratelimits.redis_client()
    dead = ratelimits.acquire_slots([("late", 1)], 60)
    client.zadd(slot_key(settings, "late"), {dead.holder: 0})  # expired, as after a crash
    alive = ratelimits.acquire_slot("late", 1, 60)
    assert alive is not None
    ratelimits.refresh_slot(dead, 60)
    assert client.zrange(slot_key(settings, "late"), 0, -1) == [alive.holder.encode()]


def default_limits() -> dict:
    """RATE_LIMITS as `make run` starts, whatever this test run's environment says."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RATE_LIMIT_")}
    env["DJANGO_SETTINGS_MODULE"] = "auditlog_project.settings.local"
    code = "from django.conf import settings; import json; print(json.dumps(settings.RATE_LIMITS))"
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])  # after the shell's banner


def per_second(rate: str) -> float:
    count, period = ratelimits.parse_rate(rate)
    return count / period


def test_default_limits_let_ingest_through_and_bite_on_reads():
    limits = default_limits()
    assert per_second(limits["write"]["user"]) >= 2000  # 1,000+ single events/s, headroom
    assert per_second(limits["read"]["user"]) < 158  # the rate that never got a 429
    for kind in ("stats", "export"):
        assert per_second(limits[kind]["user"]) < per_second(limits["read"]["user"])
    for kind, rates in limits.items():
        assert per_second(rates["tenant"]) >= per_second(rates["user"]), kind


def test_the_replaced_variables_stop_start_up():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "auditlog_project.settings.local"}
    env["RATE_LIMIT_PER_USER"] = "100/m"
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "RATE_LIMIT_PER_USER is replaced by RATE_LIMIT_<KIND>_PER_USER" in result.stderr


def test_every_operation_documents_its_429(client):
    import yaml

    schema = yaml.safe_load(client.get("/api/schema/").content)
    rate_limited = schema["components"]["responses"]["RateLimited"]
    assert "Retry-After" in rate_limited["headers"]
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert operation["responses"]["429"] == {
                "$ref": "#/components/responses/RateLimited"
            }, (method, path)
