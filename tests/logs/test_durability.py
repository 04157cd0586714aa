"""Nothing acknowledged is lost: kill the web server, or PostgreSQL itself, mid-load.

Clients send single events with their own ids over real HTTP to real gunicorn
workers, and something is killed with SIGKILL while requests are in flight:

- the whole web server: every event that got a 201 must be stored, and
  retrying every event (acknowledged or not) against a new server stores each
  exactly once;
- a private PostgreSQL server (the test's own, never the machine's), postmaster
  and backends at once, with no shutdown checkpoint: after crash recovery every
  event that got a 201 must be there. This is what fails if a 201 can be sent
  before the COMMIT reached the WAL (`synchronous_commit=off` on event writes).
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

import psycopg
import pytest
from django.conf import settings
from rest_framework_simplejwt.tokens import AccessToken

from tests.logs.conftest import event_body, stored
from tests.processes import ROOT, base_env, private_postgres, wsgi_server


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


class Load:
    """`clients` threads sending `events` one POST at a time, until stopped."""

    def __init__(self, port: int, token: str, events: list[dict], clients: int = 4):
        self.acknowledged: set[str] = set()
        self.outcome: dict[str, int | None] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._client, args=(port, token, events[i::clients]))
            for i in range(clients)
        ]
        for thread in self._threads:
            thread.start()

    def _client(self, port: int, token: str, share: list[dict]) -> None:
        for event in share:
            if self._stop.is_set():
                return
            status = post(port, token, event)
            with self._lock:
                self.outcome[event["id"]] = status
                if status == 201:
                    self.acknowledged.add(event["id"])

    def wait_for(self, acknowledged: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while len(self.acknowledged) < acknowledged:
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"only {len(self.acknowledged)} events acknowledged")
            time.sleep(0.01)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
            assert not thread.is_alive(), "a client hung (every request has a 10 s timeout)"


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(180)
def test_a_killed_server_loses_no_acknowledged_event(parties, test_env):
    token = str(AccessToken.for_user(parties.a_admin))
    events = [event_body(id=str(uuid.uuid4()), message=f"n{i}") for i in range(4000)]

    with wsgi_server(test_env, workers=2) as server:
        load = Load(server.port, token, events)
        load.wait_for(200)
        os.killpg(server.pid, signal.SIGKILL)  # master and workers, mid-request
        time.sleep(0.5)
        load.stop()

    stored_ids = {str(row["id"]) for row in stored("tenant-a")}
    acknowledged = load.acknowledged
    assert acknowledged <= stored_ids, f"lost {len(acknowledged - stored_ids)} acknowledged events"
    outcome = load.outcome
    assert None in outcome.values() or len(outcome) < len(events), "the kill came too late"

    # Retrying everything that was attempted stores each event exactly once.
    attempted = [e for e in events if e["id"] in outcome]
    with wsgi_server(test_env, workers=2) as server:
        retries = {e["id"]: post(server.port, token, e) for e in attempted}
    assert all(retries[i] == 200 for i in acknowledged)  # already stored: same content
    assert set(retries.values()) <= {200, 201}
    rows = [str(row["id"]) for row in stored("tenant-a")]
    assert len(rows) == len(set(rows)) == len(attempted)


def _bootstrap():
    """scripts/bootstrap.py as a module: the roles are created by its own functions."""
    spec = importlib.util.spec_from_file_location("bootstrap", ROOT / "scripts" / "bootstrap.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SEED = """
from rest_framework_simplejwt.tokens import AccessToken
from accounts.models import User
from tenants.models import Membership, Tenant
tenant = Tenant.objects.create(id="tenant-a", name="Tenant A")
user = User.objects.create_user(username="alice", password=None)
Membership.objects.create(user=user, tenant=tenant, role="admin")
print(AccessToken.for_user(user))
"""


def _prepare(server, env: dict[str, str]) -> str:
    """Roles, database and schema as `make setup` and deploys make them; a token."""
    bootstrap = _bootstrap()
    owner = bootstrap._role_and_password(bootstrap.OWNER_URL)[0]
    with psycopg.connect(server.url("postgres", "postgres"), autocommit=True) as conn:
        bootstrap.ensure_role(conn, owner, None, createdb=True)
        bootstrap.ensure_role(conn, settings.DATABASE_APP_ROLE, None, createdb=False)
        bootstrap.ensure_database(conn, "auditlog", owner)
    as_owner = {**env, "DATABASE_URL": server.url(owner, "auditlog")}
    manage = [sys.executable, str(ROOT / "manage.py")]
    for args in (["migrate", "--no-input", "-v", "0"], ["shell", "-c", SEED]):
        done = subprocess.run(
            manage + args, env=as_owner, cwd=ROOT, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def _stored_ids(server) -> set[str]:
    # As the superuser: row-level security does not hide anything from it.
    with psycopg.connect(server.url("postgres", "auditlog"), connect_timeout=5) as conn:
        return {str(row[0]) for row in conn.execute("SELECT id FROM logs_event")}


@pytest.mark.timeout(180)
def test_a_killed_postgresql_loses_no_acknowledged_event():
    events = [event_body(id=str(uuid.uuid4()), message=f"n{i}") for i in range(20000)]
    with private_postgres() as server:
        env = base_env()
        token = _prepare(server, env)
        # The app connects as the application role, as in production; the URL's
        # query string would carry connection options (e.g. ?options=-c ...).
        env["DATABASE_URL"] = server.url(settings.DATABASE_APP_ROLE, "auditlog")
        env["DATABASE_URL"] += os.environ.get("DURABILITY_DATABASE_URL_QUERY", "")
        with wsgi_server(env, workers=2, name="wsgi-pg-kill") as web:
            load = Load(web.port, token, events)
            load.wait_for(300)
            server.kill()  # postmaster and backends, mid-commit; no checkpoint
            time.sleep(0.3)
            load.stop()
        server.start()  # crash recovery replays the WAL
        stored_ids = _stored_ids(server)

    acknowledged = load.acknowledged
    assert len(acknowledged) >= 300
    after_kill = [status for status in load.outcome.values() if status != 201]
    assert after_kill, "the kill came too late: no request failed"
    lost = acknowledged - stored_ids
    assert not lost, f"{len(lost)} of {len(acknowledged)} acknowledged events lost in the crash"
