"""The stream consumer in process, over the real Redis channel layer.

End-to-end tests against a running server (HTTP write -> WebSocket push) live in
test_stream_live.py; these cover the handshake rules and the filters.
"""

import asyncio
import json
import time
import uuid

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from auditlog_project.asgi import application
from logs import consumers
from logs.stream import BadFilter, StreamFilter, publish
from tests.logs.conftest import DISCONNECT_SECONDS

pytestmark = pytest.mark.django_db(transaction=True)


def eid(name: str) -> str:
    """A stable event id (a UUID, as on the wire) for a readable name."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))


def event(**fields):
    base = {"tenant_id": "tenant-a", "user_id": "ursula", "action": "LOGIN"}
    base.update(severity="INFO", resource_type="session")
    base.update(fields)
    base["id"] = eid(base.get("id", "e1"))
    return base


def token(user) -> str:
    return str(AccessToken.for_user(user))


async def connect(query: str, bearer: str | None = None) -> WebsocketCommunicator:
    """A socket; with `bearer`, the token goes in the subprotocol header."""
    protocols = [consumers.SUBPROTOCOL, consumers.TOKEN_SUBPROTOCOL + bearer] if bearer else None
    communicator = WebsocketCommunicator(
        application, f"/api/v1/logs/stream?{query}", subprotocols=protocols
    )
    connected, _ = await communicator.connect(timeout=20)
    assert connected
    return communicator


async def subscribed(query: str, bearer: str) -> WebsocketCommunicator:
    communicator = await connect(query, bearer)
    hello = json.loads(await communicator.receive_from(timeout=20))
    assert hello["type"] == "subscribed"
    return communicator


async def close_code(communicator: WebsocketCommunicator) -> int:
    """The close code that must come; waited for up to 20 s, as a loaded machine
    may need (a full run with other work beside it once took over 5 s)."""
    message = await communicator.receive_output(timeout=20)
    while message["type"] != "websocket.close":
        message = await communicator.receive_output(timeout=20)
    # As a server does after a close: tell the consumer the socket is gone, so it
    # ends now, in this test's loop, not when the loop is torn down.
    await communicator.disconnect(timeout=DISCONNECT_SECONDS)
    return message.get("code")


NAMES = {eid(name): name for name in ("own", "other", "x", "1", "2", "3", "4")}


async def received_ids(communicator: WebsocketCommunicator) -> list[str]:
    """The names of the events received until the socket falls quiet."""
    ids = []
    while not await communicator.receive_nothing(timeout=0.3):
        ids.append(NAMES[json.loads(await communicator.receive_from())["event"]["id"]])
    return ids


def _publish_and_wait(tenant_id, events):
    publish(tenant_id, events).result(timeout=20)


publish_async = sync_to_async(_publish_and_wait)


def test_auditor_receives_its_tenants_events_and_never_anothers(parties):
    async def scenario():
        ws = await subscribed("tenant_id=tenant-a", token(parties.a_auditor))
        await publish_async("tenant-b", [event(id="foreign", tenant_id="tenant-b")])
        await publish_async("tenant-a", [event(id="mine")])
        message = json.loads(await ws.receive_from(timeout=20))
        assert message["type"] == "event"
        assert message["event"] == event(id="mine")
        assert await ws.receive_nothing(timeout=0.3)
        await ws.disconnect(timeout=DISCONNECT_SECONDS)

    async_to_sync(scenario)()


def test_filters_select_events_on_the_server(parties):
    async def scenario():
        query = "tenant_id=tenant-a&severity=error,critical&action=delete"
        ws = await subscribed(query, token(parties.a_admin))
        await publish_async(
            "tenant-a",
            [
                event(id="1", severity="ERROR", action="DELETE"),
                event(id="2", severity="INFO", action="DELETE"),
                event(id="3", severity="CRITICAL", action="DELETE"),
                event(id="4", severity="ERROR", action="LOGIN"),
            ],
        )
        assert await received_ids(ws) == ["1", "3"]
        await ws.disconnect(timeout=DISCONNECT_SECONDS)

    async_to_sync(scenario)()


def test_the_user_role_only_receives_its_own_events(parties):
    async def scenario():
        ws = await subscribed("", token(parties.a_user))  # implicit single tenant
        await publish_async("tenant-a", [event(id="own"), event(id="other", user_id="alice")])
        assert await received_ids(ws) == ["own"]
        await ws.disconnect(timeout=DISCONNECT_SECONDS)

    async_to_sync(scenario)()


def test_auth_by_first_message(parties):
    async def scenario():
        ws = await connect("tenant_id=tenant-a")
        await ws.send_to(text_data=json.dumps({"type": "auth", "token": token(parties.a_admin)}))
        assert json.loads(await ws.receive_from(timeout=20))["type"] == "subscribed"
        await publish_async("tenant-a", [event(id="x")])
        assert await received_ids(ws) == ["x"]
        await ws.disconnect(timeout=DISCONNECT_SECONDS)

    async_to_sync(scenario)()


@pytest.mark.parametrize(
    ("query", "bearer", "code"),
    [
        ("tenant_id=tenant-a", "garbage", 4401),
        ("tenant_id=tenant-a", "{refresh}", 4401),
        ("tenant_id=tenant-b", "{access}", 4403),
        ("tenant_id=no-such-tenant", "{access}", 4403),
        ("tenant_id=tenant-a&severity=LOUD", "{access}", 4400),
        ("tenant_id=tenant-a&action=not%20an%20action", "{access}", 4400),
        ("tenant_id=tenant-a&cursor=not-a-cursor", "{access}", 4400),
    ],
)
def test_refusals_close_with_the_contract_codes(parties, query, bearer, code):
    bearer = bearer.format(
        access=token(parties.a_auditor), refresh=str(RefreshToken.for_user(parties.a_auditor))
    )

    async def scenario():
        ws = await connect(query, bearer)
        assert await close_code(ws) == code

    async_to_sync(scenario)()


def test_a_token_in_the_url_is_refused_even_when_valid(parties):
    async def scenario():
        ws = await connect(f"tenant_id=tenant-a&token={token(parties.a_admin)}")
        assert await close_code(ws) == 4400

    async_to_sync(scenario)()


def test_user_role_asking_for_someone_elses_events_is_forbidden(parties):
    async def scenario():
        ws = await connect("user_id=alice", token(parties.a_user))
        assert await close_code(ws) == 4403

    async_to_sync(scenario)()


def test_a_multi_tenant_caller_without_tenant_is_4400(parties):
    async def scenario():
        ws = await connect("", token(parties.platform_admin))
        assert await close_code(ws) == 4400

    async_to_sync(scenario)()


def test_a_bad_or_missing_auth_message_is_4401(parties, settings):
    settings.STREAM_AUTH_TIMEOUT = 0.2

    async def scenario():
        ws = await connect("tenant_id=tenant-a")
        await ws.send_to(text_data="not json")
        assert await close_code(ws) == 4401
        silent = await connect("tenant_id=tenant-a")
        assert await close_code(silent) == 4401

    async_to_sync(scenario)()


def test_an_expired_token_stops_the_stream(parties, monkeypatch):
    async def scenario():
        ws = await subscribed("tenant_id=tenant-a", token(parties.a_admin))
        monkeypatch.setattr(consumers, "now", lambda: 10**12)
        await publish_async("tenant-a", [event()])
        assert await close_code(ws) == 4401

    async_to_sync(scenario)()


def test_a_client_that_does_not_read_is_disconnected(parties, monkeypatch, settings):
    settings.STREAM_SEND_TIMEOUT = 0.1

    async def stuck(self, *args, **kwargs):
        await asyncio.sleep(10)

    async def scenario():
        ws = await subscribed("tenant_id=tenant-a", token(parties.a_admin))
        monkeypatch.setattr(consumers.AsyncWebsocketConsumer, "send", stuck)
        await publish_async("tenant-a", [event()])
        assert await close_code(ws) == 4408

    async_to_sync(scenario)()


def test_stream_filter_parsing():
    wanted = StreamFilter.from_params({"severity": "warning, error", "resource_type": "doc"})
    assert wanted.severity == {"WARNING", "ERROR"}
    assert wanted.matches(event(severity="ERROR", resource_type="doc"))
    assert not wanted.matches(event(severity="INFO", resource_type="doc"))
    with pytest.raises(BadFilter):
        StreamFilter.from_params({"user_id": "x" * 300})
    with pytest.raises(PermissionError):
        StreamFilter.from_params({"user_id": "alice"}).restricted_to("ursula")


def test_publish_never_fails_the_writer(monkeypatch, caplog):
    import logs.stream as stream

    class Broken:
        async def group_send(self, *args):
            raise ConnectionError("redis is down")

    monkeypatch.setattr(stream, "get_channel_layer", lambda: Broken())
    future = publish("tenant-a", [event()])
    with pytest.raises(ConnectionError):
        future.result(timeout=20)
    for _ in range(100):  # the failure is logged by a callback in the publisher thread
        if "stream publish failed" in caplog.text:
            break
        time.sleep(0.01)
    assert "stream publish failed" in caplog.text
    assert publish("tenant-a", []) is None


def test_an_idle_subscription_ends_when_its_token_expires(parties):
    from datetime import timedelta

    short = AccessToken.for_user(parties.a_admin)
    short.set_exp(lifetime=timedelta(seconds=3))  # > the time to subscribe on a busy machine

    async def scenario():
        ws = await subscribed("tenant_id=tenant-a", str(short))
        assert await close_code(ws) == 4401  # no event needed to notice

    async_to_sync(scenario)()
