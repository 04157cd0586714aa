"""Behind pgbouncer in transaction mode (the documented production pooler), the
tenant a transaction activates stays that transaction's alone.

Row-level security reads `app.tenant_id`, which `tenants.scoping.activate`
sets with `set_config(..., true)`: transaction-local, so it ends at COMMIT or
ROLLBACK, which is exactly when pgbouncer hands the server connection to
another client. Here more clients than server connections run interleaved
transactions for two tenants through a real pgbouncer (Debian's package), as
the application role with client-side binding (Django's default: no prepared
statements, which pgbouncer 1.18 cannot pool). A session-level setting, by
contrast, is shown to leak from one client to another: the pool really is
shared, so the isolation seen is the transaction scope's doing.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from tests.logs.conftest import event_body, seed
from tests.processes import wait_for_port

pytestmark = pytest.mark.django_db(transaction=True)

PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
SERVER_CONNECTIONS = 2
CLIENTS = 6


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def pgbouncer():
    # Its own folder in /tmp: pytest's tmp_path is not reachable by the postgres
    # user, which pgbouncer runs as when the tests run as root.
    tmp_path = Path(tempfile.mkdtemp(prefix="auditlog-pgbouncer-"))
    tmp_path.chmod(0o755)
    if not Path(PGBOUNCER).exists():
        pytest.fail("pgbouncer is not installed (make test installs Debian's package)")
    database = connection.settings_dict["NAME"]
    role = settings.DATABASE_APP_ROLE
    port = _free_port()
    (tmp_path / "users.txt").write_text(f'"{role}" ""\n')
    (tmp_path / "pgbouncer.ini").write_text(
        f"""[databases]
{database} = host=127.0.0.1 port=5432 dbname={database}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {tmp_path / "users.txt"}
pool_mode = transaction
default_pool_size = {SERVER_CONNECTIONS}
max_client_conn = 100
logfile = {tmp_path / "pgbouncer.log"}
pidfile = {tmp_path / "pgbouncer.pid"}
"""
    )
    user = ["-u", "postgres"] if os.geteuid() == 0 else []  # it refuses to run as root
    if user:
        shutil.chown(tmp_path, "postgres")
        for name in ("users.txt", "pgbouncer.ini"):
            shutil.chown(tmp_path / name, "postgres")
    proc = subprocess.Popen([PGBOUNCER, *user, str(tmp_path / "pgbouncer.ini")])
    try:
        try:
            wait_for_port(port, proc, timeout=10)
        except RuntimeError:
            log = tmp_path / "pgbouncer.log"
            raise RuntimeError(log.read_text()[-2000:] if log.exists() else "no log") from None
        yield f"postgresql://{role}@127.0.0.1:{port}/{database}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(tmp_path, ignore_errors=True)


@pytest.fixture
def two_tenants(parties):
    for tenant, count in (("tenant-a", 3), ("tenant-b", 2)):
        seed(parties, tenant, [event_body(tenant_id=tenant) for _ in range(count)])


def _client(url: str) -> psycopg.Connection:
    return psycopg.connect(url, cursor_factory=psycopg.ClientCursor, prepare_threshold=None)


def test_the_tenant_of_a_transaction_never_reaches_another_client(pgbouncer, two_tenants):
    expected = {"tenant-a": [("tenant-a", 3)], "tenant-b": [("tenant-b", 2)]}
    seen: list[tuple[str, object]] = []
    errors: list[BaseException] = []

    def client(index: int) -> None:
        try:
            with _client(pgbouncer) as conn:
                for round_ in range(20):
                    tenant = "tenant-a" if (index + round_) % 2 else "tenant-b"
                    with conn.transaction():
                        conn.execute("SELECT set_config('app.tenant_id', %s, true)", [tenant])
                        time.sleep(0.001)  # let other clients' transactions interleave
                        rows = conn.execute(
                            "SELECT tenant_id, count(*) FROM logs_event GROUP BY 1"
                        ).fetchall()
                    seen.append((tenant, rows))
                    with conn.transaction():  # the next transaction: no tenant, no rows
                        rows = conn.execute("SELECT count(*) FROM logs_event").fetchall()
                    seen.append(("none", rows))
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert len(seen) == CLIENTS * 40
    for tenant, rows in seen:
        assert rows == (expected[tenant] if tenant != "none" else [(0,)]), (tenant, rows)


def test_the_pool_is_shared_so_a_session_setting_would_leak(pgbouncer, two_tenants):
    first, second = _client(pgbouncer), _client(pgbouncer)
    try:
        with first.transaction():
            first.execute("SELECT set_config('app.tenant_id', 'tenant-a', false)")  # session
        leaked = []
        for _ in range(20):  # the other client lands on the same server connection
            with second.transaction():
                leaked += second.execute("SELECT tenant_id FROM logs_event LIMIT 1").fetchall()
        assert ("tenant-a",) in leaked
    finally:
        first.close()
        second.close()
