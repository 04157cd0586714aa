"""No successful read without its access event, even when the server dies right
after answering: real gunicorn workers, real HTTP, SIGKILL mid-load.

Each read carries its own `X-Request-ID`, which its access event keeps as
`request_id`; every read answered 200 must have its event stored. It holds
because the event commits with the read's transaction, before Django hands
the answer to the server.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import urllib.error
import urllib.request
import uuid

import pytest
from django.db import transaction
from rest_framework_simplejwt.tokens import AccessToken

from logs.models import Event
from tenants.scoping import activate
from tests.logs.conftest import event_body, seed
from tests.processes import wsgi_server

PATHS = ["/api/v1/logs?page_size=5", "/api/v1/logs/stats", "/api/v1/logs/{id}"]


def get(port: int, token: str, path: str, request_id: str) -> int | None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        headers={"Authorization": f"Bearer {token}", "X-Request-ID": request_id},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            response.read()
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None  # refused or reset: not answered


def recorded_request_ids() -> set[str]:
    with transaction.atomic():
        activate("tenant-a")
        rows = Event.objects.filter(category="access").values_list("request_id", flat=True)
        return set(rows)


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(180)
def test_every_answered_read_has_its_access_event_after_a_kill(parties, test_env):
    (event_id,) = seed(parties, "tenant-a", [event_body()])
    token = str(AccessToken.for_user(parties.a_auditor))
    answered: set[str] = set()
    failed: list[int | None] = []
    stop = threading.Event()
    lock = threading.Lock()

    def client(n: int) -> None:
        i = 0
        while not stop.is_set():
            request_id = f"r-{n}-{i}-{uuid.uuid4().hex[:6]}"
            path = PATHS[i % len(PATHS)].format(id=event_id)
            status = get(server.port, token, path, request_id)
            with lock:
                (answered.add(request_id) if status == 200 else failed.append(status))
            i += 1

    with wsgi_server(test_env, workers=2) as server:
        threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60
        while len(answered) < 150 and time.monotonic() < deadline:
            time.sleep(0.01)
        os.killpg(server.pid, signal.SIGKILL)  # master and workers, mid-request
        time.sleep(0.5)
        stop.set()
        for thread in threads:
            thread.join(timeout=30)

    assert len(answered) >= 150
    assert None in failed, "the kill came too late: no request was cut off"
    assert set(failed) <= {None}, f"a read was refused: {failed}"
    missing = answered - recorded_request_ids()
    assert not missing, f"{len(missing)} answered reads have no access event"
