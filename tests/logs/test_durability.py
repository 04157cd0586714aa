"""Nothing acknowledged is lost: kill the web server mid-load, then count.

Clients send single events with their own ids to real gunicorn workers; the
whole server is killed with SIGKILL while requests are in flight. Every event
that got a 201 must be stored, and retrying every event (acknowledged or not)
against a new server stores each exactly once.
"""

import json
import os
import signal
import threading
import time
import urllib.error
import urllib.request
import uuid

import pytest
from rest_framework_simplejwt.tokens import AccessToken

from tests.logs.conftest import event_body, stored
from tests.processes import free_port, wsgi_server

pytestmark = pytest.mark.django_db(transaction=True)


def post(port: int, token: str, event: dict) -> int | None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/logs",
        data=json.dumps(event).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None  # connection refused or reset: not acknowledged


def test_a_killed_server_loses_no_acknowledged_event(parties, test_env):
    token = str(AccessToken.for_user(parties.a_admin))
    events = [event_body(id=str(uuid.uuid4()), message=f"n{i}") for i in range(4000)]
    acknowledged, outcome, lock = set(), {}, threading.Lock()
    port = free_port()

    with wsgi_server(test_env, port, workers=2) as server:
        stop = threading.Event()

        def client(share: list[dict]):
            for event in share:
                if stop.is_set():
                    return
                status = post(port, token, event)
                with lock:
                    outcome[event["id"]] = status
                    if status == 201:
                        acknowledged.add(event["id"])

        threads = [threading.Thread(target=client, args=(events[i::4],)) for i in range(4)]
        for thread in threads:
            thread.start()
        while len(acknowledged) < 200:
            time.sleep(0.01)
        os.killpg(server.pid, signal.SIGKILL)  # master and workers, mid-request
        time.sleep(0.5)
        stop.set()
        for thread in threads:
            thread.join()

    stored_ids = {str(row["id"]) for row in stored("tenant-a")}
    assert acknowledged, "the load never got going"
    assert acknowledged <= stored_ids, f"lost {len(acknowledged - stored_ids)} acknowledged events"
    assert None in outcome.values() or len(outcome) < len(events), "the kill came too late"

    # Retrying everything that was attempted stores each event exactly once.
    attempted = [e for e in events if e["id"] in outcome]
    port = free_port()
    with wsgi_server(test_env, port, workers=2):
        retries = {e["id"]: post(port, token, e) for e in attempted}
    assert all(retries[i] == 200 for i in acknowledged)  # already stored: same content
    assert set(retries.values()) <= {200, 201}
    rows = [str(row["id"]) for row in stored("tenant-a")]
    assert len(rows) == len(set(rows)) == len(attempted)
