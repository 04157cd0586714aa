"""Database round trips of the hot paths, pinned: an extra query per request is a regression.

Each request is listed statement by statement (savepoints left out: in a test
the request's transaction is a savepoint of the test's). Partitions for today
are made known first, as they are in a running process after its first write
of the day, and so are the client's user and membership (the access cache,
tenants/access_cache.py), as they are from a client's second request on.

The last tests count what reaches the wire instead of statements: the waits
for PostgreSQL's answers (psycopg's) and for Redis's, with real COMMITs.
"""

from __future__ import annotations

import re
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tenants import access_cache
from tests.logs.conftest import event_body

pytestmark = pytest.mark.django_db

LABELS = [
    ("user", r'FROM "accounts_user"'),
    ("membership", r'FROM "tenants_membership"'),
    ("activate tenant", r"set_config\('app\.tenant_id'"),
    ("partitions", r"auditlog_ensure_partitions"),
    ("insert events", r"jsonb_to_recordset"),
    ("stored keys", r"FROM logs_event_key"),
    ("export cursor", r"DECLARE .* CURSOR"),
    ("select events", r'^SELECT .* FROM "logs_event"'),
]
REQUEST = ["activate tenant"]


def label(sql: str) -> str:
    """A statement's name; two sent as one query (the tenant's activation
    riding with a write's first statement) are named "first+second"."""
    both = re.match(r"SELECT set_config\('app\.tenant_id', '[a-z0-9-]+', true\); (.*)", sql, re.S)
    if both:
        return "activate tenant+" + label(both.group(1))
    for name, pattern in LABELS:
        if re.search(pattern, sql):
            return name
    return sql[:80]


def round_trips(call) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        call()
    return [
        label(q["sql"])
        for q in queries.captured_queries
        if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))
    ]


@pytest.fixture
def admin(parties, django_capture_on_commit_callbacks):
    client = parties.client("a_admin")
    with django_capture_on_commit_callbacks(execute=True):  # today's partition, known
        assert client.post("/api/v1/logs", event_body(), format="json").status_code == 201
    assert client.get("/api/v1/logs").status_code == 200  # the implicit tenant, cached
    return client


def bulk(client, items):
    body = {"tenant_id": "tenant-a", "events": items}
    response = client.post("/api/v1/logs/bulk", body, format="json")
    assert response.status_code == 201, response.json()


def test_a_clients_first_request_reads_its_user_and_membership(parties):
    client = parties.client("a_auditor")

    def search():
        assert client.get("/api/v1/logs").status_code == 200

    assert round_trips(search)[:3] == ["user", "membership", "activate tenant"]
    assert round_trips(search)[:2] == ["activate tenant", "select events"]


def test_a_single_event_is_one_insert_statement(admin):
    def create():
        assert admin.post("/api/v1/logs", event_body(), format="json").status_code == 201

    # The tenant's activation travels with the INSERT: one round trip.
    assert round_trips(create) == ["activate tenant+insert events"]


@pytest.mark.parametrize("size", [1, 1000])
def test_a_bulk_request_is_one_insert_statement_whatever_its_size(admin, size):
    items = [event_body(id=str(uuid.uuid4())) for _ in range(size)]
    assert round_trips(lambda: bulk(admin, items)) == ["activate tenant+insert events"]


def test_a_retried_bulk_adds_one_read_of_the_stored_keys(admin):
    items = [event_body(id=str(uuid.uuid4())) for _ in range(1000)]
    bulk(admin, items)
    expected = ["activate tenant+insert events", "stored keys"]
    assert round_trips(lambda: bulk(admin, items)) == expected


def test_an_export_is_its_access_event_then_one_cursor(admin):
    bulk(admin, [event_body() for _ in range(50)])

    def export():
        response = admin.get("/api/v1/logs/export", {"format": "ndjson"})
        assert response.status_code == 200
        # the 50, the fixture's event and the SEARCH of its warming read
        assert len(b"".join(response.streaming_content).splitlines()) == 52

    # The request records the EXPORT event; the body, in its own transaction,
    # activates the tenant again and reads through one server-side cursor.
    assert round_trips(export) == [*REQUEST, "insert events", "activate tenant", "export cursor"]


def test_a_list_is_one_select_and_its_access_event_one_insert(admin):
    bulk(admin, [event_body(id=str(uuid.uuid4())) for _ in range(5)])

    def search():
        response = admin.get("/api/v1/logs", {"page_size": "3"})
        assert response.status_code == 200 and len(response.json()["results"]) == 3

    # The SEARCH access event is stored in the tenant the read activated: no
    # second activation, no read before it.
    assert round_trips(search) == [*REQUEST, "select events", "insert events"]


def test_a_get_is_one_select_and_its_access_event_one_insert(admin):
    (event_id,) = [e["id"] for e in admin.get("/api/v1/logs").json()["results"][-1:]]

    def view():
        assert admin.get(f"/api/v1/logs/{event_id}").status_code == 200

    assert round_trips(view) == [*REQUEST, "select events", "insert events"]


class WireCounter:
    """Counts the waits for an answer from PostgreSQL (psycopg) and from Redis."""

    def __init__(self, monkeypatch) -> None:
        import psycopg.waiting
        from psycopg.waiting import Wait
        from redis.connection import AbstractConnection

        self.postgresql = self.redis = 0
        original = psycopg.waiting.wait

        def counting_wait(gen, fileno, *args, **kwargs):
            def counted():
                try:
                    state = next(gen)
                    while True:
                        if state == Wait.R:  # all sent; waiting for the server
                            self.postgresql += 1
                        state = gen.send((yield state))
                except StopIteration as done:
                    return done.value

            return original(counted(), fileno, *args, **kwargs)

        read_response = AbstractConnection.read_response

        def counting_read(connection, *args, **kwargs):
            self.redis += 1
            return read_response(connection, *args, **kwargs)

        monkeypatch.setattr(psycopg.waiting, "wait", counting_wait)
        monkeypatch.setattr(AbstractConnection, "read_response", counting_read)

    def around(self, call) -> tuple[int, int]:
        self.postgresql = self.redis = 0
        call()
        return self.postgresql, self.redis


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["/api/v1/logs", "/api/v1/logs/bulk"])
def test_a_write_is_three_postgresql_round_trips_and_one_redis_one(parties, monkeypatch, path):
    client = parties.client("a_admin")

    def write():
        body = event_body() if path.endswith("logs") else {"events": [event_body()] * 1}
        assert client.post(path, body, format="json").status_code == 201

    write()  # today's partition known; the user and membership cached
    wire = WireCounter(monkeypatch)
    # PostgreSQL: BEGIN, the tenant's activation with the INSERT, COMMIT (the
    # health check looks at the socket instead of a SELECT 1). Redis: one Lua
    # script checks the access cache's stamps and counts the rate limits.
    assert wire.around(write) == (3, 1)
    access_cache.clear()
    # Without the cache: the user and the membership, one round trip each,
    # and the stamps read before the user is (an MGET).
    assert wire.around(write) == (5, 2)
