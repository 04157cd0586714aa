"""The stream process takes its database connections from a pool (DATABASE_POOL_SIZE).

Its database calls (authentication, access checks, replays, access events)
run in threads that come and go; without a pool each opened a connection of
its own and closed it. Counted by PostgreSQL itself: the sessions opened on
the test database (pg_stat_database.sessions) while 12 streams open, receive
their `subscribed` message and close, one after another.
"""

from __future__ import annotations

import json

import pytest
from django.db import connection
from websockets.sync.client import connect

from tests.logs.test_stream_live import bearer, stream_url
from tests.processes import asgi_server, free_port

pytestmark = pytest.mark.django_db(transaction=True)

STREAMS = 12


def sessions_opened() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


def open_and_close_streams(parties, env: dict) -> int:
    port = free_port()
    with asgi_server(env, port):
        before = sessions_opened()
        for _ in range(STREAMS):
            with connect(stream_url(port), subprotocols=bearer(parties.a_auditor)) as ws:
                assert json.loads(ws.recv(timeout=10))["type"] == "subscribed"
        # pg_stat_database is updated when a session ends or every few hundred ms
        connection.close()
        return sessions_opened() - before


def test_streams_share_the_pools_connections(parties, test_env):
    opened = open_and_close_streams(parties, {**test_env, "DATABASE_POOL_SIZE": "4"})
    assert 1 <= opened <= 4 + 1  # the pool's (counted as they open) and the test's own


def test_without_the_pool_every_stream_opens_connections(parties, test_env):
    # The control: the count above would see connections that were not pooled.
    assert open_and_close_streams(parties, {**test_env, "DATABASE_POOL_SIZE": "0"}) >= STREAMS
