"""The live stream end to end: HTTP writes to a running server, pushes to real WebSocket clients."""

import asyncio
import json
import time
import urllib.request

import pytest
import websockets
from rest_framework_simplejwt.tokens import AccessToken

from tests.processes import asgi_server, free_port

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def server(parties, test_env):
    port = free_port()
    with asgi_server(test_env, port):
        yield port


def token(user) -> str:
    return str(AccessToken.for_user(user))


async def post(port: int, path: str, body: dict, user) -> tuple[int, dict]:
    """A real HTTP POST to the server, off the event loop."""

    def send():
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}{path}",
            data=json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {token(user)}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            return response.status, json.loads(response.read())

    return await asyncio.to_thread(send)


async def next_event(ws, timeout=5.0) -> dict | None:
    try:
        message = json.loads(await asyncio.wait_for(ws.recv(), timeout))
    except TimeoutError:
        return None
    return message


def test_a_posted_event_reaches_its_tenant_and_never_another(parties, server):
    async def scenario():
        base = f"ws://127.0.0.1:{server}/api/v1/logs/stream"
        async with (
            websockets.connect(f"{base}?tenant_id=tenant-a&token={token(parties.a_auditor)}") as a,
            websockets.connect(f"{base}?tenant_id=tenant-b&token={token(parties.b_admin)}") as b,
        ):
            assert (await next_event(a))["type"] == "subscribed"
            assert (await next_event(b))["type"] == "subscribed"
            status, created = await post(
                server,
                "/api/v1/logs",
                {
                    "tenant_id": "tenant-a",
                    "user_id": "alice",
                    "action": "login",
                    "resource_type": "session",
                    "message": "live",
                },
                parties.a_admin,
            )
            acknowledged = time.perf_counter()
            assert status == 201, created
            pushed = await next_event(a)
            latency = time.perf_counter() - acknowledged
            assert pushed["type"] == "event"
            assert pushed["event"]["id"] == created["id"]
            assert pushed["event"]["action"] == "LOGIN"
            assert latency < 5
            assert await next_event(b, timeout=0.5) is None

    asyncio.run(scenario())


def test_a_bulk_write_arrives_filtered_and_in_order(parties, server):
    async def scenario():
        url = (
            f"ws://127.0.0.1:{server}/api/v1/logs/stream?tenant_id=tenant-a"
            f"&severity=ERROR&token={token(parties.a_admin)}"
        )
        async with websockets.connect(url) as ws:
            assert (await next_event(ws))["type"] == "subscribed"
            events = [
                {
                    "user_id": "u",
                    "action": "DELETE",
                    "resource_type": "doc",
                    "severity": "ERROR" if i % 2 else "INFO",
                    "message": f"n{i}",
                }
                for i in range(10)
            ]
            status, body = await post(
                server,
                "/api/v1/logs/bulk",
                {"tenant_id": "tenant-a", "events": events},
                parties.a_admin,
            )
            assert status == 201, body
            received = [(await next_event(ws))["event"]["message"] for _ in range(5)]
            assert received == ["n1", "n3", "n5", "n7", "n9"]
            assert await next_event(ws, timeout=0.5) is None

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("tenant_id=tenant-a&token=not-a-jwt", 4401),
        ("tenant_id=tenant-b&token={a_auditor}", 4403),
        ("tenant_id=missing-tenant&token={a_auditor}", 4403),
        ("tenant_id=tenant-a&severity=LOUD&token={a_auditor}", 4400),
    ],
)
def test_refusals_over_a_real_socket(parties, server, query, code):
    query = query.format(a_auditor=token(parties.a_auditor))

    async def scenario():
        async with websockets.connect(f"ws://127.0.0.1:{server}/api/v1/logs/stream?{query}") as ws:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 5)
            assert closed.value.rcvd.code == code

    asyncio.run(scenario())
