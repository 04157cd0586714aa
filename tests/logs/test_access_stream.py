"""The stream's access events: STREAM_OPEN before the subscription, STREAM_CLOSE
after it, in the tenant streamed; no loop between subscribers; the category filter.

In process over the real Redis channel layer (as test_stream_consumer.py).
"""

from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync, sync_to_async

from tests.logs.conftest import DISCONNECT_SECONDS
from tests.logs.test_access_events import access_events
from tests.logs.test_stream_consumer import connect, subscribed, token
from tests.logs.test_stream_resume import until_marker

pytestmark = pytest.mark.django_db(transaction=True)

events_of = sync_to_async(access_events)


async def messages(ws, quiet: float = 0.5) -> list[dict]:
    """Every message received until the socket falls quiet (heartbeats left out).
    Only to show that nothing (more) comes: a wait for something that must come
    uses `until_marker`, which a slow machine cannot outrun."""
    out = []
    while not await ws.receive_nothing(timeout=quiet):
        message = json.loads(await ws.receive_from())
        if message["type"] != "heartbeat":
            out.append(message)
    return out


async def actions_until_marker(ws) -> list[str]:
    """The actions of the events received up to a marker published now (other
    waits' markers, which every subscriber of the tenant sees, left out)."""
    received = await until_marker(ws)
    return [m["event"]["action"] for m in received if m["event"]["action"] != "MARK"]


def test_a_stream_records_its_open_and_its_close(parties):
    async def scenario():
        query = "tenant_id=tenant-a&severity=info&category=access,admin"
        ws = await subscribed(query, token(parties.a_auditor))
        (opened,) = await events_of()
        assert opened["action"] == "STREAM_OPEN"
        assert opened["user_id"] == "arthur"
        assert opened["metadata"]["filters"] == {"severity": "INFO", "category": "access,admin"}
        assert opened["metadata"]["via"] == "stream"
        await ws.disconnect(timeout=DISCONNECT_SECONDS)
        opened_again, closed = await events_of()
        assert opened_again == opened
        assert closed["action"] == "STREAM_CLOSE"
        assert closed["metadata"]["results"] == 0  # events delivered
        assert closed["metadata"]["seconds"] >= 0
        assert await sync_to_async(access_events)("tenant-b") == []

    async_to_sync(scenario)()


def test_a_refused_stream_records_nothing(parties):
    async def scenario():
        ws = await connect("tenant_id=tenant-b", token(parties.a_auditor))
        await ws.receive_output(timeout=5)
        await ws.disconnect(
            timeout=DISCONNECT_SECONDS
        )  # end the application, or its loop's locks leak into the next test
        assert await events_of() == []
        assert await sync_to_async(access_events)("tenant-b") == []

    async_to_sync(scenario)()


def test_subscribers_see_each_others_opens_once_and_nothing_loops(parties):
    """A's stream shows B's STREAM_OPEN (an event like any other) once; delivering
    it records nothing, so nothing more follows, however long A waits."""

    async def scenario():
        first = await subscribed("tenant_id=tenant-a", token(parties.a_auditor))
        second = await subscribed("tenant_id=tenant-a", token(parties.a_admin))
        assert await actions_until_marker(first) == ["STREAM_OPEN"]
        assert await actions_until_marker(second) == []  # its own open committed before it joined
        await second.disconnect(timeout=DISCONNECT_SECONDS)
        assert await actions_until_marker(first) == ["STREAM_CLOSE"]
        assert await messages(first, quiet=1.0) == []  # and nothing loops
        await first.disconnect(timeout=DISCONNECT_SECONDS)
        actions = [e["action"] for e in await events_of()]
        assert sorted(actions) == ["STREAM_CLOSE"] * 2 + ["STREAM_OPEN"] * 2

    async_to_sync(scenario)()


def test_the_stream_filters_by_category(parties):
    async def scenario():
        query = "tenant_id=tenant-a&category=application"
        only_app = await subscribed(query, token(parties.a_auditor))
        other = await subscribed("tenant_id=tenant-a", token(parties.a_admin))  # STREAM_OPEN
        assert await messages(only_app) == []
        await sync_to_async(
            lambda: parties.client("a_admin").post(
                "/api/v1/logs",
                {"user_id": "x", "action": "LOGIN", "resource_type": "s"},
                format="json",
            )
        )()
        (message,) = await until_marker(only_app)
        assert message["event"]["category"] == "application"
        assert message["event"]["action"] == "LOGIN"
        await other.disconnect(timeout=DISCONNECT_SECONDS)
        await only_app.disconnect(timeout=DISCONNECT_SECONDS)

    async_to_sync(scenario)()


def test_a_bad_category_filter_closes_with_4400(parties):
    async def scenario():
        ws = await connect("tenant_id=tenant-a&category=secret", token(parties.a_auditor))
        message = await ws.receive_output(timeout=5)
        while message["type"] != "websocket.close":
            message = await ws.receive_output(timeout=5)
        assert message["code"] == 4400
        await ws.disconnect(timeout=DISCONNECT_SECONDS)
        assert await events_of() == []

    async_to_sync(scenario)()
