"""Resume after a reconnect, replay bounds and stream limits, in process over real Redis.

The subscriber reconnects with the cursor of the last message it got; what
committed meanwhile is replayed from PostgreSQL (tenant-scoped, filtered, the
`user` role only its own), then the stream goes on live without duplicates.
The Redis outage version, against a private Redis and a real server, is in
test_stream_outage.py.
"""

import asyncio
import base64
import json
import threading
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
import redis
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.db import connection, transaction
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken

from auditlog_project import ratelimits
from auditlog_project.asgi import application
from logs import consumers, services
from logs.models import Event
from logs.stream import BadFilter, ResumeCursor, publish, publish_flush, slot_ttl, stream_caps
from logs.validation import parse_event
from tenants.scoping import activate, resolve_access
from tests.logs.conftest import DISCONNECT_SECONDS, seed

pytestmark = pytest.mark.django_db(transaction=True)


def bearer(user) -> list[str]:
    return [consumers.SUBPROTOCOL, consumers.TOKEN_SUBPROTOCOL + str(AccessToken.for_user(user))]


async def connect(user, query: str = "tenant_id=tenant-a") -> WebsocketCommunicator:
    """Application events only: subscribers' STREAM_OPEN/CLOSE access events
    (tests/logs/test_access_stream.py) would be replayed between them."""
    query = f"category=application&{query}"
    ws = WebsocketCommunicator(
        application, f"/api/v1/logs/stream?{query}", subprotocols=bearer(user)
    )
    connected, _ = await ws.connect(timeout=5)
    assert connected
    return ws


async def message(ws, timeout: float = 20) -> dict:
    """The next message that is not a heartbeat; a close comes back as its code.

    Only for a message that must come: a healthy one arrives in milliseconds,
    and the generous wait rides out a stalled Redis send (at most
    STREAM_REDIS_SOCKET_TIMEOUT) instead of failing the suite on it."""
    while True:
        output = await ws.receive_output(timeout=timeout)
        if output["type"] == "websocket.close":
            return {"type": "closed", "code": output.get("code")}
        decoded = json.loads(output["text"])
        if decoded["type"] != "heartbeat":
            return decoded


async def until(ws, last) -> list[dict]:
    """Messages (heartbeats left out) up to and including the first for which `last` holds."""
    received = []
    while True:
        received.append(await message(ws))
        if last(received[-1]) or received[-1]["type"] == "closed":
            return received


async def until_marker(ws, **fields) -> list[dict]:
    """Messages up to a marker published after everything this process published so far."""
    await sync_to_async(publish_flush)()
    marker = str(uuid.uuid4())
    event = {"id": marker, "tenant_id": "tenant-a", "user_id": "alice", "action": "MARK"}
    event.update(severity="INFO", resource_type="marker", category="application", **fields)
    await sync_to_async(lambda: publish(event["tenant_id"], [event]).result(timeout=5))()
    received = await until(ws, lambda m: m.get("event", {}).get("id") == marker)
    return received[:-1]


def event_ids(messages: list[dict]) -> list[str]:
    return [m["event"]["id"] for m in messages if m["type"] == "event"]


def completes(m: dict) -> bool:
    return m["type"] == "replay_complete"


seed_async = sync_to_async(seed)


def body(message: str, **fields) -> dict:
    event = {"user_id": "alice", "action": "LOGIN", "resource_type": "session"}
    return {**event, "message": message, **fields}


def test_a_reconnecting_subscriber_gets_what_it_missed_then_live_once(parties):
    async def scenario():
        first = await connect(parties.a_auditor)
        assert (await message(first))["type"] == "subscribed"
        [seen] = await seed_async(parties, "tenant-a", [body("seen")])
        pushed = await message(first)
        assert pushed["event"]["id"] == seen
        await first.disconnect(timeout=DISCONNECT_SECONDS)

        missed = [
            (await seed_async(parties, "tenant-a", [body(f"missed {i}")]))[0] for i in range(3)
        ]
        await seed_async(parties, "tenant-b", [body("foreign")])

        again = await connect(parties.a_auditor, f"tenant_id=tenant-a&cursor={pushed['cursor']}")
        hello = await message(again)
        assert hello["type"] == "subscribed"
        assert hello["cursor"] == pushed["cursor"]  # unchanged until the replay is through
        replayed = [await message(again) for _ in missed]
        assert [m["event"]["id"] for m in replayed] == missed  # in commit order, `seen` skipped
        assert all(m["replay"] is True for m in replayed)
        done = await message(again)
        assert done["type"] == "replay_complete"
        assert done["count"] == 3
        [live] = await seed_async(parties, "tenant-a", [body("live")])
        after = await until_marker(again)
        assert event_ids(after) == [live]  # once, and nothing replayed again
        assert "replay" not in after[0]
        await again.disconnect(timeout=DISCONNECT_SECONDS)

    async_to_sync(scenario)()


def test_an_event_committed_during_the_replay_is_sent_once(parties, monkeypatch):
    """The subscriber joins the group before it reads the replay: an event committed
    in between is in both, and must reach the client once."""
    real_replay = consumers.replay_rows
    raced: list[str] = []

    async def racing_replay(**kwargs):
        raced.extend(await seed_async(parties, "tenant-a", [body("during the replay")]))
        return await real_replay(**kwargs)

    monkeypatch.setattr(consumers, "replay_rows", racing_replay)

    async def scenario():
        cursor = ResumeCursor.now().encode()
        ws = await connect(parties.a_admin, f"tenant_id=tenant-a&cursor={cursor}")
        received = await until(ws, completes)
        assert event_ids(received) == raced  # replayed...
        assert event_ids(await until_marker(ws)) == []  # ...and its live copy dropped
        await ws.disconnect(timeout=DISCONNECT_SECONDS)

    async_to_sync(scenario)()


def test_the_replay_is_tenant_scoped_filtered_and_own_events_for_the_user_role(parties):
    async def scenario():
        cursor = ResumeCursor.now().encode()
        ids = await seed_async(
            parties,
            "tenant-a",
            [
                body("mine, info", user_id="ursula"),
                body("mine, error", user_id="ursula", severity="ERROR"),
                body("someone else's error", severity="ERROR"),
            ],
        )
        await seed_async(parties, "tenant-b", [body("other tenant", user_id="ursula")])
        user = await connect(parties.a_user, f"cursor={cursor}&severity=ERROR")
        assert (await message(user))["type"] == "subscribed"
        got = await until(user, completes)
        assert [m["event"]["message"] for m in got if m["type"] == "event"] == ["mine, error"]
        auditor = await connect(parties.a_auditor, f"tenant_id=tenant-a&cursor={cursor}")
        assert (await message(auditor))["type"] == "subscribed"
        assert sorted(event_ids(await until(auditor, completes))) == sorted(ids)
        foreign = await connect(parties.b_admin, f"tenant_id=tenant-b&cursor={cursor}")
        assert (await message(foreign))["type"] == "subscribed"
        replayed = await until(foreign, completes)
        assert {m["event"]["tenant_id"] for m in replayed if m["type"] == "event"} == {"tenant-b"}
        for ws in (user, auditor, foreign):
            await ws.disconnect(timeout=DISCONNECT_SECONDS)

    async_to_sync(scenario)()


def test_a_replay_past_its_bound_points_to_the_list_api(parties, settings):
    settings.STREAM_REPLAY_MAX_EVENTS = 2
    cursor = ResumeCursor.now().encode()
    ids = seed(parties, "tenant-a", [body(f"n{i}", severity="ERROR") for i in range(3)])

    async def scenario():
        ws = await connect(
            parties.a_admin,
            f"tenant_id=tenant-a&severity=ERROR&cursor={cursor}",
        )
        assert (await message(ws))["type"] == "subscribed"
        fallback, done = await message(ws), await message(ws)
        await ws.disconnect(timeout=DISCONNECT_SECONDS)
        return fallback, done

    fallback, done = async_to_sync(scenario)()
    assert fallback["type"] == "replay_unavailable"
    assert fallback["reason"] == "too_many"
    assert done == {"type": "replay_complete", "count": 0, "cursor": done["cursor"]}
    params = fallback["list_params"]
    assert params["severity"] == "ERROR"
    page = parties.client("a_admin").get(f"/api/v1/logs?{urlencode(params)}")
    assert page.status_code == 200, page.json()
    assert sorted(row["id"] for row in page.json()["results"]) == sorted(ids)  # the gap


def test_a_cursor_older_than_the_replay_age_is_not_replayed(parties, settings):
    settings.STREAM_REPLAY_MAX_AGE = 60
    old = ResumeCursor(position=datetime.now(UTC) - timedelta(minutes=5)).encode()

    async def scenario():
        ws = await connect(parties.a_admin, f"tenant_id=tenant-a&cursor={old}")
        assert (await message(ws))["type"] == "subscribed"
        fallback = await message(ws)
        await ws.disconnect(timeout=DISCONNECT_SECONDS)
        return fallback

    fallback = async_to_sync(scenario)()
    assert fallback["type"] == "replay_unavailable"
    assert fallback["reason"] == "too_old"


# --- Limits ---------------------------------------------------------------------


@pytest.fixture
def slots_cleared():
    """No slots left over from other tests (slots of a crashed test expire anyway)."""
    client = redis.Redis.from_url(django_settings.REDIS_URL)
    prefix = django_settings.RATE_LIMIT_KEY_PREFIX
    keys = list(client.scan_iter(f"{prefix}:slot:stream:*"))
    if keys:
        client.delete(*keys)
    yield
    client.close()


def test_streams_per_user_are_capped_and_freed_on_disconnect(parties, settings, slots_cleared):
    settings.STREAM_MAX_PER_USER = 2

    async def scenario():
        held = [await connect(parties.a_admin) for _ in range(2)]
        for ws in held:
            assert (await message(ws))["type"] == "subscribed"
        refused = await connect(parties.a_admin)
        assert await message(refused) == {"type": "closed", "code": 4429}
        await refused.disconnect(timeout=DISCONNECT_SECONDS)
        other_user = await connect(parties.a_auditor)  # the cap is per user
        assert (await message(other_user))["type"] == "subscribed"
        await held[0].disconnect(timeout=DISCONNECT_SECONDS)
        freed = await connect(parties.a_admin)
        assert (await message(freed))["type"] == "subscribed"
        for ws in (held[1], other_user, freed):
            await ws.disconnect(timeout=DISCONNECT_SECONDS)

    async_to_sync(scenario)()


def test_streams_per_tenant_are_capped(parties, settings, slots_cleared):
    settings.STREAM_MAX_PER_TENANT = 2

    async def scenario():
        held = [await connect(parties.a_admin), await connect(parties.a_auditor)]
        for ws in held:
            assert (await message(ws))["type"] == "subscribed"
        refused = await connect(parties.a_user)
        assert await message(refused) == {"type": "closed", "code": 4429}
        await refused.disconnect(timeout=DISCONNECT_SECONDS)
        other_tenant = await connect(parties.b_admin, "tenant_id=tenant-b")
        assert (await message(other_tenant))["type"] == "subscribed"
        for ws in (*held, other_tenant):
            await ws.disconnect(timeout=DISCONNECT_SECONDS)

    async_to_sync(scenario)()


def test_heartbeats_keep_a_slot_and_a_dead_processs_slot_expires(parties, settings, slots_cleared):
    """Slots live three heartbeats: refreshed while subscribed, gone after a crash."""
    settings.STREAM_MAX_PER_USER = 2
    settings.STREAM_HEARTBEAT_SECONDS = 0.1  # a slot lives 0.3 s, its set 2 s

    async def scenario():
        live = await connect(parties.a_admin)
        assert (await message(live))["type"] == "subscribed"
        # A place taken and never refreshed, as if its process died.
        await ratelimits.aacquire_slots(stream_caps(parties.a_admin.pk, "tenant-a"), slot_ttl())
        full = await connect(parties.a_admin)
        assert await message(full) == {"type": "closed", "code": 4429}
        await full.disconnect(timeout=DISCONNECT_SECONDS)
        await asyncio.sleep(2.5)  # past the lifetime of a slot and of an unrefreshed set
        freed = await connect(parties.a_admin)  # the orphan's slot expired...
        assert (await message(freed))["type"] == "subscribed"
        still_full = await connect(parties.a_admin)  # ...the live one's did not
        assert await message(still_full) == {"type": "closed", "code": 4429}
        for ws in (live, freed, still_full):
            await ws.disconnect(timeout=DISCONNECT_SECONDS)

    async_to_sync(scenario)()


def test_an_event_received_earlier_but_committed_later_is_replayed(parties):
    """Transactions commit out of order: `late` gets its received_at first, commits
    after the client's last cursor, and must still come back on resume (the
    overlap window); replaying strictly after the cursor would skip it."""
    written, commit = threading.Event(), threading.Event()
    late: list[str] = []

    def slow_writer():
        try:
            with transaction.atomic():
                access = resolve_access(parties.a_admin, "tenant-a")
                activate("tenant-a")
                data = parse_event(body("late"), now=timezone.now())
                late.append(str(services.event_create(access=access, data=data)[0]["id"]))
                written.set()
                assert commit.wait(timeout=10)
        finally:
            connection.close()

    # Committed first, so the writers below neither create a partition nor a rollup
    # mark: either would hold a lock to COMMIT that serialises them.
    seed(parties, "tenant-a", [body("warm-up", action="WARM_UP")])
    writer = threading.Thread(target=slow_writer)
    writer.start()
    assert written.wait(timeout=10)

    async def before():
        ws = await connect(parties.a_auditor, "tenant_id=tenant-a&action=LOGIN")
        assert (await message(ws))["type"] == "subscribed"
        [early] = await seed_async(parties, "tenant-a", [body("early")])
        pushed = await message(ws)
        assert pushed["event"]["id"] == early
        await ws.disconnect(timeout=DISCONNECT_SECONDS)
        return pushed["cursor"]

    async def after(cursor):
        query = f"tenant_id=tenant-a&action=LOGIN&cursor={cursor}"
        ws = await connect(parties.a_auditor, query)
        received = await until(ws, completes)
        await ws.disconnect(timeout=DISCONNECT_SECONDS)
        return event_ids(received)

    cursor = async_to_sync(before)()
    commit.set()
    writer.join(timeout=10)
    assert ResumeCursor.decode(cursor).position > stored_received_at(late[0])
    assert async_to_sync(after)(cursor) == late


def stored_received_at(event_id: str) -> datetime:
    with transaction.atomic():
        activate("tenant-a")
        return Event.objects.get(id=event_id).received_at


def _crafted_resume_cursor(stamp: str) -> str:
    return base64.urlsafe_b64encode(f"s1|{stamp}|".encode()).decode().rstrip("=")


def test_a_crafted_resume_cursor_is_read_in_utc_or_refused():
    # The list cursor's crafted-offset bug (a +16:00 time reached PostgreSQL) must not
    # come back through the stream's own cursor.
    same = ResumeCursor.decode(_crafted_resume_cursor("2026-06-01T12:00:00+16:00"))
    assert same.position.utcoffset() == timedelta(0)
    assert same.position == datetime(2026, 5, 31, 20, 0, tzinfo=UTC)
    for stamp in ("0001-01-01T00:00:00+16:00", "9999-12-31T23:59:59-23:59"):
        with pytest.raises(BadFilter):
            ResumeCursor.decode(_crafted_resume_cursor(stamp))
    # At the first moment of the calendar the replay starts there, no overflow.
    first = ResumeCursor.decode(_crafted_resume_cursor("0001-01-01T00:00:10+00:00"))
    assert first.replay_from() == datetime.min.replace(tzinfo=UTC)
