"""Shared fixtures: the database as the application role, and real processes.

The test database is created and migrated as the owner role (as in
production); then every test connects as the application role, so row-level
security is in force in tests exactly as it is at run time.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
import uuid
import warnings
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core import signals
from django.core.management.base import CommandError
from django.core.management.commands import flush as flush_command
from django.db import connection, connections
from psycopg import sql
from psycopg.pq import TransactionStatus

from encryption import keyring
from masking import selectors as masking_selectors
from scripts import servers
from tenants import access_cache
from tests import channel_layer
from tests.processes import base_env, running

pytest_plugins = ["tests.fixtures"]


# A transactional test ends with a flush (one TRUNCATE of every table). A live
# server the test started may still be writing then: a stream that closes writes
# its STREAM_CLOSE access event. The two can deadlock, and PostgreSQL aborts one
# of them; when it aborts the flush, the flush is retried (it then waits for the
# server's write to commit and truncates it too) instead of failing the next
# tests with the rows it left.
_flush_handle = flush_command.Command.handle


def _flush_retrying_deadlocks(self, *args, **options):
    for attempt in range(5):
        try:
            return _flush_handle(self, *args, **options)
        except CommandError as exc:
            if attempt == 4 or "deadlock detected" not in str(exc.__cause__):
                raise
            time.sleep(0.2)
    return None


flush_command.Command.handle = _flush_retrying_deadlocks

# The role that owns the test database and its tables (set by django_db_setup).
_database_owner: list[str] = []


def pytest_sessionfinish(session, exitstatus):
    session.config._auditlog_session = session


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    """End the process even if a test left a thread that never ends.

    A test that pytest-timeout stopped while its event loop was still
    cancelling a task (seen once, an in-process stream test) leaves that
    loop's executor thread running; Python joins such threads at exit and
    `make test` then hung after printing its results and coverage. Everything
    is reported and written by now: exit with pytest's own status.
    """
    session = getattr(config, "_auditlog_session", None)
    if session is None:
        return
    left = [
        t.name
        for t in threading.enumerate()
        if t is not threading.main_thread() and not t.daemon and t.is_alive()
    ]
    if left:
        print(f"threads left running at exit ({', '.join(left)}): not waited for", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(int(session.exitstatus))


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
    _database_owner[:] = [owner]
    connection.settings_dict["USER"] = role
    yield
    connection.close()
    connection.settings_dict["USER"] = owner


@pytest.fixture
def as_table_owner(django_db_setup):
    """This test's connection logs in as the tables' owner instead of the app role.

    For the tests that prove one layer of isolation with another switched off:
    the owner may `ALTER TABLE ... DISABLE ROW LEVEL SECURITY` inside the test's
    transaction, which is rolled back at the end like everything else the test
    did. Request it before `db` and anything that uses the database: with
    `pytestmark = pytest.mark.usefixtures("as_table_owner")`.
    """
    connection = connections["default"]
    app_role = connection.settings_dict["USER"]
    connection.close()
    connection.settings_dict["USER"] = _database_owner[0]
    yield  # `db` opens the test transaction as the owner
    # Finalised after the test transaction was rolled back (fixtures unwind LIFO).
    connection.close()
    connection.settings_dict["USER"] = app_role


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


@pytest.fixture(autouse=True)
def _no_poisoned_channel_layer(request):
    """A receive or cleanup a test's event loop left pending poisons the process's
    channel layer for every later in-process stream (tests/channel_layer.py):
    the layer is replaced by a fresh one after such a test, with a warning naming the test
    (shown in pytest's warnings summary) so the cause can be found."""
    yield
    layer = channel_layer.default_layer()
    left = channel_layer.leftover_receive_state(layer)
    if left:
        state = ", ".join(left)
        message = f"{request.node.nodeid} left channel-layer state ({state}); replaced"
        warnings.warn(message, stacklevel=1)
        channel_layer.replace_default_layer()


@pytest.fixture(autouse=True)
def _no_compiled_masking_policy():
    """Tests roll tenants back to masking_version 0 and reuse tenant ids, which
    never happens at run time (versions only grow): forget compiled policies."""
    masking_selectors.forget_compiled()


@pytest.fixture(autouse=True)
def _fresh_access_cache():
    """Tests roll users and memberships back, and ids of rolled-back rows are
    never announced as changed: each test starts with an empty access cache."""
    access_cache.clear()


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


# What the test itself had set for app.tenant_id before each in-process request.
_tenant_before_request: list[str] = []


def _in_shared_transaction() -> bool:
    """True in a test whose requests share the test's (usable) transaction."""
    try:
        asyncio.get_running_loop()
        return False  # an in-process ASGI request: its own connection and transaction
    except RuntimeError:
        pass
    return connection.in_atomic_block and not connection.needs_rollback


def _request_started(**kwargs) -> None:
    """A request starts as in production: in a transaction of its own, no tenant set.

    In production every request is its own transaction, so `app.tenant_id`
    (transaction-local) is always empty when it starts. Tests that share one
    transaction would otherwise hand the tenant set by one request to the
    next, hiding a request that forgot to set its own. Each request also runs
    in a savepoint of its own (see _request_finished). The raw driver cursor
    keeps these statements out of the tests' query counts.
    """
    if not _in_shared_transaction():
        return  # transactional test or no database: each request commits alone
    with connection.connection.cursor() as cursor:
        cursor.execute("SAVEPOINT tests_request")
        cursor.execute(
            "SELECT current_setting('app.tenant_id', true), set_config('app.tenant_id', '', true)"
        )
        _tenant_before_request.append(cursor.fetchone()[0] or "")


def _request_finished(**kwargs) -> None:
    """Nothing the request set survives it, and its failure stays its own.

    A request whose transaction failed is rolled back to its savepoint (in
    production its transaction would end there). A rollback mark left by a view
    outside ATOMIC_REQUESTS (DRF's handler marks the enclosing atomic block, in
    production there is none) is dropped, as it is a no-op in production. Then
    the test gets its own tenant back.
    """
    if not _tenant_before_request or not connection.in_atomic_block:
        return
    tenant = _tenant_before_request.pop()
    failed = connection.connection.info.transaction_status == TransactionStatus.INERROR
    with connection.connection.cursor() as cursor:
        if failed:
            cursor.execute("ROLLBACK TO SAVEPOINT tests_request")
        cursor.execute("RELEASE SAVEPOINT tests_request")
        cursor.execute("SELECT set_config('app.tenant_id', %s, true)", [tenant])
    connection.needs_rollback = False


def end_open_requests() -> None:
    """Finish in-process requests whose server never closed the response
    (schemathesis' WSGI client does not): as a WSGI server would on completion."""
    while _tenant_before_request:
        _request_finished()


@pytest.fixture(autouse=True)
def _no_request_of_an_earlier_test():
    # A streamed response an earlier test never read leaves its request open;
    # its savepoint went with that test's transaction.
    _tenant_before_request.clear()


@pytest.fixture(autouse=True)
def _no_data_key_of_an_earlier_test():
    # Tests reuse tenant ids, and a test's data keys go with its transaction:
    # a key cached by an earlier test must not encrypt this one's events.
    keyring.reset()
    yield
    keyring.reset()


@pytest.fixture(autouse=True, scope="session")
def _each_request_starts_without_a_tenant():
    signals.request_started.connect(_request_started, dispatch_uid="tests-tenant-reset")
    signals.request_finished.connect(_request_finished, dispatch_uid="tests-tenant-reset")
    yield
    signals.request_started.disconnect(dispatch_uid="tests-tenant-reset")
    signals.request_finished.disconnect(dispatch_uid="tests-tenant-reset")
