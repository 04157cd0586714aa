"""Shared fixtures: the database as the application role, and real processes.

The test database is created and migrated as the owner role (as in
production); then every test connects as the application role, so row-level
security is in force in tests exactly as it is at run time.
"""

from __future__ import annotations

import os
import uuid
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.db import connections
from psycopg import sql

from scripts import servers
from tests.processes import base_env, running

pytest_plugins = ["tests.fixtures"]


def pytest_collection_modifyitems(items):
    """Tests marked `session_start` run first and `session_end` last (stable otherwise).

    A long check can then span the suite instead of adding its wait to it
    (tests/logs/test_stream_idle.py: five minutes of an idle stream).
    """

    def rank(item) -> int:
        if item.get_closest_marker("session_start"):
            return 0
        return 2 if item.get_closest_marker("session_end") else 1

    items.sort(key=rank)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    connection = connections["default"]
    owner = connection.settings_dict["USER"]
    role = settings.DATABASE_APP_ROLE
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        # Test-only: transactional tests flush tables with TRUNCATE between tests.
        cursor.execute(
            sql.SQL("GRANT TRUNCATE ON ALL TABLES IN SCHEMA public TO {}")
            .format(sql.Identifier(role))
            .as_string(cursor.connection)
        )
    connection.close()
    connection.settings_dict["USER"] = role
    yield
    connection.close()
    connection.settings_dict["USER"] = owner


@pytest.fixture(scope="session")
def test_env(django_db_setup) -> dict[str, str]:
    """Environment for subprocesses (servers, workers) that share the test database."""
    return base_env()


@pytest.fixture(autouse=True)
def _no_proxy_env(monkeypatch):
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture(autouse=True)
def _fresh_rate_limits(settings):
    """Each test starts with no rate-limit counters or slots used: counters live in
    Redis across tests, and tests share tenant ids. Production limits apply."""
    settings.RATE_LIMIT_KEY_PREFIX = f"{settings.RATE_LIMIT_KEY_PREFIX}:{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session", autouse=True)
def sqs_endpoint():
    """A moto server on SQS_ENDPOINT_URL for the session, when it is local and silent.

    An endpoint that already answers (another run's, or AWS) is used as it is.
    """
    endpoint = urlsplit(settings.SQS_ENDPOINT_URL)
    host, port = endpoint.hostname or "", endpoint.port or 0
    if host not in servers.LOCAL_HOSTS or not port or servers.answers(host, port):
        yield settings.SQS_ENDPOINT_URL
        return
    with running(servers.moto(host, port), dict(os.environ), f"moto-{port}", port=port):
        yield settings.SQS_ENDPOINT_URL
