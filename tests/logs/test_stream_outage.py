"""The stream across a Redis outage, with a private Redis that the test stops and starts.

Policy (docs/architecture.md#live-stream): while Redis is down, writes go on
(their live publish fails and is logged), subscribers are closed with 4503 and
new subscriptions are refused with 4503; once Redis is back, a client that
reconnects with its last cursor is replayed every event it missed from
PostgreSQL, and new subscriptions work at once.
"""

import asyncio
import json
import urllib.request

import pytest
import websockets
from rest_framework_simplejwt.tokens import AccessToken

from tests.processes import asgi_server, free_port
from tests.redis_server import PrivateRedis

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def private_redis():
    redis = PrivateRedis()
    redis.start()
    yield redis
    redis.close()


def bearer(user) -> list[str]:
    return ["auditlog.v1", f"auditlog.token.{AccessToken.for_user(user)}"]


async def post_event(port: int, user, message: str) -> str:
    def send() -> str:
        body = {"tenant_id": "tenant-a", "user_id": "alice", "action": "LOGIN"}
        body.update(resource_type="session", message=message)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/logs",
            data=json.dumps(body).encode(),
            headers={
                "Authorization": f"Bearer {AccessToken.for_user(user)}",
                "Content-Type": "application/json",
            },
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            assert response.status == 201
            return json.loads(response.read())["id"]

    return await asyncio.to_thread(send)


async def recv(ws, timeout: float = 10) -> dict:
    """The next message that is not a heartbeat."""
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if message["type"] != "heartbeat":
            return message


async def close_code(ws, timeout: float = 10) -> int:
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(ws.recv(), timeout)
    return closed.value.rcvd.code


def test_a_subscriber_resumes_across_a_redis_outage_without_losing_events(
    parties, test_env, private_redis
):
    port = free_port()
    env = {
        **test_env,
        "REDIS_URL": private_redis.url,
        "STREAM_POLL_SECONDS": "0.5",
        "STREAM_REDIS_SOCKET_TIMEOUT": "2",
        "STREAM_HEARTBEAT_SECONDS": "1",
    }
    with asgi_server(env, port):
        asyncio.run(_outage(parties, port, private_redis))


async def _outage(parties, port: int, redis: PrivateRedis) -> None:
    url = f"ws://127.0.0.1:{port}/api/v1/logs/stream?tenant_id=tenant-a&category=application"
    async with websockets.connect(url, subprotocols=bearer(parties.a_auditor)) as ws:
        assert (await recv(ws))["type"] == "subscribed"
        before = await post_event(port, parties.a_admin, "before the outage")
        live = await recv(ws)
        assert live["event"]["id"] == before
        cursor = live["cursor"]
        redis.stop()
        assert await close_code(ws) == 4503  # told, not dropped with 1006

    missed = [await post_event(port, parties.a_admin, f"during the outage {i}") for i in range(3)]
    async with websockets.connect(url, subprotocols=bearer(parties.a_auditor)) as refused:
        assert await close_code(refused) == 4503

    redis.start()
    resumed_url = f"{url}&cursor={cursor}"
    async with (
        websockets.connect(resumed_url, subprotocols=bearer(parties.a_auditor)) as resumed,
        websockets.connect(url, subprotocols=bearer(parties.a_admin)) as fresh,
    ):
        assert (await recv(resumed))["type"] == "subscribed"
        replayed = [await recv(resumed) for _ in missed]
        assert [m["event"]["id"] for m in replayed] == missed
        assert (await recv(resumed))["type"] == "replay_complete"
        assert (await recv(fresh))["type"] == "subscribed"  # the first one after: works
        after = await post_event(port, parties.a_admin, "after the outage")
        assert (await recv(resumed))["event"]["id"] == after
        assert (await recv(fresh))["event"]["id"] == after
