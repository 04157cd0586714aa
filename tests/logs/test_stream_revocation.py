"""Open streams end when the access they carry does, over real sockets.

A real uvicorn process serves the stream (and the HTTP API); real WebSocket
clients hold streams open while the test removes a membership (through the
HTTP API), deactivates a user or changes a password (through the model, as
the admin and `changepassword` do). The stream closes with the documented
code (4403: no access to the tenant; 4401: log in again) well within
NOTICE_BOUND seconds, by the access-change notice: the server's periodic
re-check is set far beyond the test. A second server with a short re-check
shows the fallback closes a stream whose notice never came.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import connection
from rest_framework_simplejwt.tokens import AccessToken
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tenants.models import Membership
from tests.processes import asgi_server

pytestmark = pytest.mark.django_db(transaction=True)
NOTICE_BOUND = 2.0  # seconds from the committed change to the close frame


@pytest.fixture(scope="module")
def server(test_env):
    env = {**test_env, "STREAM_HEARTBEAT_SECONDS": "30", "STREAM_ACCESS_RECHECK_SECONDS": "600"}
    with asgi_server(env) as process:
        yield process.port


@contextmanager
def open_stream(port: int, user, tenant: str = "tenant-a") -> Iterator[ClientConnection]:
    url = f"ws://127.0.0.1:{port}/api/v1/logs/stream?tenant_id={tenant}"
    with connect(url, subprotocols=["auditlog.v1"], open_timeout=10) as ws:
        ws.send(json.dumps({"type": "auth", "token": str(AccessToken.for_user(user))}))
        assert json.loads(ws.recv(timeout=10))["type"] == "subscribed"
        yield ws


def closed_with(ws: ClientConnection, bound: float = NOTICE_BOUND) -> tuple[int, float]:
    """The close code the server sends, and how long after the call it came."""
    start = time.monotonic()
    with pytest.raises(ConnectionClosed) as closed:
        while True:  # heartbeats and events may come first
            ws.recv(timeout=bound)
    assert closed.value.rcvd is not None, "no close frame: the socket just dropped"
    return closed.value.rcvd.code, time.monotonic() - start


ARTHUR_IN_A = "/api/v1/tenants/tenant-a/members/arthur"


def still_open(ws: ClientConnection, seconds: float = 1.0) -> bool:
    try:
        ws.recv(timeout=seconds)
    except TimeoutError:
        return True
    except ConnectionClosed:
        return False
    return True


def http(port: int, method: str, path: str, user, body: dict | None = None) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={"Authorization": f"Bearer {AccessToken.for_user(user)}"}
        | ({"Content-Type": "application/json"} if body is not None else {}),
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_removing_a_membership_closes_the_stream_with_4403(parties, server):
    with open_stream(server, parties.a_auditor) as ws:
        assert http(server, "DELETE", ARTHUR_IN_A, parties.a_admin) == 204
        code, delay = closed_with(ws)
    assert code == 4403
    assert delay < NOTICE_BOUND
    print(f"membership removal -> 4403 in {delay * 1000:.0f} ms")


def test_deactivating_the_user_closes_the_stream_with_4401(parties, server):
    with open_stream(server, parties.a_auditor) as ws:
        parties.a_auditor.is_active = False
        parties.a_auditor.save()
        code, delay = closed_with(ws)
    assert code == 4401
    assert delay < NOTICE_BOUND
    print(f"deactivation -> 4401 in {delay * 1000:.0f} ms")


def test_changing_the_password_closes_every_stream_of_the_user_with_4401(parties, server):
    Membership.objects.create(user=parties.a_auditor, tenant=parties.tenant_b, role="auditor")
    with (
        open_stream(server, parties.a_auditor) as first,
        open_stream(server, parties.a_auditor, "tenant-b") as second,
    ):
        parties.a_auditor.set_password("a new password for arthur 42")
        parties.a_auditor.save()
        assert closed_with(first)[0] == 4401
        assert closed_with(second)[0] == 4401


def test_removal_from_tenant_a_leaves_the_tenant_b_stream_open_and_flowing(parties, server):
    Membership.objects.create(user=parties.a_auditor, tenant=parties.tenant_b, role="auditor")
    with (
        open_stream(server, parties.a_auditor) as in_a,
        open_stream(server, parties.a_auditor, "tenant-b") as in_b,
    ):
        assert http(server, "DELETE", ARTHUR_IN_A, parties.a_admin) == 204
        assert closed_with(in_a)[0] == 4403
        event = {"tenant_id": "tenant-b", "user_id": "bob", "action": "login"}
        event |= {"resource_type": "session", "message": "still flowing"}
        assert http(server, "POST", "/api/v1/logs", parties.b_admin, event) == 201
        message = json.loads(in_b.recv(timeout=5))
        assert message["type"] == "event"
        assert message["event"]["message"] == "still flowing"


def test_other_users_streams_in_the_tenant_stay_open(parties, server):
    with (
        open_stream(server, parties.a_auditor) as removed,
        open_stream(server, parties.a_admin) as kept,
    ):
        assert http(server, "DELETE", ARTHUR_IN_A, parties.a_admin) == 204
        assert closed_with(removed)[0] == 4403
        assert still_open(kept)


def test_a_role_change_narrows_the_open_stream_in_place(parties, server):
    with open_stream(server, parties.a_auditor) as ws:
        body = {"username": "arthur", "role": "user"}
        assert http(server, "POST", "/api/v1/tenants/tenant-a/members", parties.a_admin, body) in (
            200,
            201,
        )
        time.sleep(NOTICE_BOUND / 2)  # the notice reaches the stream
        for user_id in ("alice", "arthur"):
            event = {"tenant_id": "tenant-a", "user_id": user_id, "action": "login"}
            event |= {"resource_type": "session", "message": f"by {user_id}"}
            assert http(server, "POST", "/api/v1/logs", parties.a_admin, event) == 201
        message = json.loads(ws.recv(timeout=5))
        assert message["event"]["user_id"] == "arthur"  # alice's event was not for a `user`
        assert still_open(ws)


def test_deactivating_the_tenant_closes_its_streams_with_4403(parties, server):
    with open_stream(server, parties.a_auditor) as ws:
        parties.tenant_a.is_active = False
        parties.tenant_a.save()
        assert closed_with(ws)[0] == 4403


def test_without_a_notice_the_periodic_recheck_closes_the_stream(parties, test_env):
    """A removal no hook saw (raw SQL): the heartbeat's re-check still ends it."""
    env = {**test_env, "STREAM_HEARTBEAT_SECONDS": "0.3", "STREAM_ACCESS_RECHECK_SECONDS": "1"}
    with asgi_server(env) as process, open_stream(process.port, parties.a_auditor) as ws:
        with connection.cursor() as cursor:
            cursor.execute(
                "DELETE FROM tenants_membership WHERE user_id = %s", [parties.a_auditor.pk]
            )
        code, delay = closed_with(ws, bound=5)
    print(f"no notice, periodic re-check -> 4403 in {delay * 1000:.0f} ms")
    assert code == 4403
    assert delay < 1 + 0.3 + 1  # re-check interval + one heartbeat + slack
