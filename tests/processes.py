"""Start real service processes (ASGI and WSGI servers, nginx, Celery) for tests.

Command lines come from scripts/servers.py, the one place `make run`, Docker
and the bench take them from. Servers given port 0 bind a port of their own
choosing and the test reads it from their log (`server.port`), so two tests
(or two helpers' runs) can never race for one free port. Every wait has a
deadline.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connections

from scripts import servers

ROOT = Path(__file__).resolve().parent.parent
# The workers' SQS long poll (SQS_WAIT_TIME_SECONDS): short, see celery_worker().
WORKER_WAIT_SECONDS = 1


def free_port() -> int:
    """A port free right now (for servers that cannot bind 0: retry on a clash)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def free_ports() -> servers.Ports:
    """A public port whose neighbours (PORT+1..+5) are free too."""
    for _ in range(50):
        ports = servers.Ports(free_port())
        wanted = [ports.web, ports.stream, ports.export, ports.sqs, ports.tls]
        if all(_port_free(port) for port in wanted):
            return ports
    raise RuntimeError("no run of six free ports found")


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def base_env() -> dict[str, str]:
    db = connections["default"].settings_dict
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="auditlog_project.settings.test",
        DATABASE_URL=(
            f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        ),
        SQS_ENDPOINT_URL=settings.SQS_ENDPOINT_URL,
        SQS_QUEUE_PREFIX=settings.SQS_QUEUE_PREFIX,
        # Rate-limit counters and export places of this session's servers start
        # empty: a place a killed server never gave back stays in its session.
        RATE_LIMIT_KEY_PREFIX=settings.RATE_LIMIT_KEY_PREFIX,
        PYTHONUNBUFFERED="1",
        SQS_WAIT_TIME_SECONDS=str(WORKER_WAIT_SECONDS),
    )
    return env


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited early with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {port} after {timeout}s")


def wait_for_log(log_path: Path, pattern: re.Pattern, proc: subprocess.Popen, timeout: float):
    """The first match of `pattern` in the process's log; fails fast if it exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = pattern.search(log_path.read_text(errors="replace"))
        if match:
            return match
        if proc.poll() is not None:
            raise RuntimeError(f"process exited early with {proc.returncode}: see {log_path}")
        time.sleep(0.05)
    raise TimeoutError(f"{pattern.pattern!r} not in {log_path} after {timeout}s")


@contextmanager
def running(
    args: list[str],
    env: dict[str, str],
    log_name: str,
    port: int | None = None,
    announces_port: re.Pattern | None = None,
):
    """Run a process for the duration of the block; its output goes to .run/.

    With `announces_port` (a pattern whose group 1 is the port the server bound,
    read from its log), the yielded process gets a `port` attribute once the
    server listens there.
    """
    log_path = ROOT / ".run" / f"test-{log_name}.log"
    log_path.parent.mkdir(exist_ok=True)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            args,
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: tests may kill it whole
        )
        try:
            if announces_port is not None:
                port = int(wait_for_log(log_path, announces_port, proc, timeout=30).group(1))
            if port is not None:
                wait_for_port(port, proc)
            proc.port = port  # type: ignore[attr-defined]
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


_UVICORN_PORT = re.compile(r"Uvicorn running on http://127\.0\.0\.1:(\d+)")
_GUNICORN_PORT = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")


def asgi_server(env: dict[str, str], port: int = 0, *extra: str):
    """uvicorn as the `stream` process runs (a connection pool, no persistent connections).

    `extra` arguments are appended (e.g. a log level, or the access log on).
    With port 0 (the default) it binds a port of its own: `server.port`.
    """
    env = {**servers.ASGI_DATABASE, **env}
    args = [*servers.uvicorn(port), *extra]
    if port:
        return running(args, env, f"asgi-{port}", port=port)
    return running(args, env, f"asgi-{os.getpid()}", announces_port=_UVICORN_PORT)


def wsgi_server(env: dict[str, str], port: int = 0, workers: int = 2, name: str = "wsgi"):
    """gunicorn sync workers, as `make run` and production serve HTTP.

    With port 0 (the default) it binds a port of its own: `server.port`.
    """
    if port:
        args = servers.gunicorn(port, workers) + ["--log-level", "warning"]
        return running(args, env, f"{name}-{port}", port=port)
    args = servers.gunicorn(0, workers) + ["--log-level", "info"]  # info: the bound port
    return running(args, env, f"{name}-{os.getpid()}", announces_port=_GUNICORN_PORT)


@contextmanager
def served(env: dict[str, str], *, web_workers: int = 2, export_workers: int = 2):
    """The `make run` topology: nginx in front of the web and export pools and the stream.

    Yields the Ports; clients use `ports.public`. nginx's files live in a
    folder of .run/ that its workers (nobody, when the tests run as root) can
    traverse, and are removed afterwards.
    """
    if shutil.which("nginx") is None:
        raise RuntimeError("nginx is required: scripts/test.sh installs it with apt")
    ports = free_ports()
    run_dir = ROOT / ".run" / f"test-nginx-{ports.public}"
    (run_dir / "nginx").mkdir(parents=True, exist_ok=True)
    (run_dir / "nginx" / "nginx.conf").write_text(servers.nginx_conf(run_dir, ports))
    behind = {**env, **servers.ENV["web"]}
    try:
        with ExitStack() as stack:
            for port, workers in ((ports.web, web_workers), (ports.export, export_workers)):
                args = servers.gunicorn(port, workers) + ["--log-level", "warning"]
                stack.enter_context(running(args, behind, f"wsgi-{port}", port=port))
            stream_env = {**env, **servers.ENV["stream"]}
            stream = servers.uvicorn(ports.stream)
            stack.enter_context(running(stream, stream_env, f"asgi-{ports.stream}", ports.stream))
            nginx = servers.nginx(run_dir)
            stack.enter_context(running(nginx, env, f"nginx-{ports.public}", port=ports.public))
            yield ports
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


@contextmanager
def celery_worker(env: dict[str, str]):
    """A Celery worker on the test queue, for the block.

    When it is stopped (or killed) while its receive is long-polling, the SQS
    endpoint may still hand that receive a message, which then nobody runs
    until the visibility timeout: a message the test sends next would vanish.
    So the block ends only once such a receive is over (SQS_WAIT_TIME_SECONDS,
    1 s for the tests' workers).
    """
    args = [sys.executable, "-m", "celery", "-A", "auditlog_project", "worker"]
    args += ["--pool", "solo", "--queues", "default", "--loglevel", "INFO"]
    args += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    try:
        with running(args, env, "celery-worker") as proc:
            yield proc
    finally:
        time.sleep(float(env.get("SQS_WAIT_TIME_SECONDS", WORKER_WAIT_SECONDS)) + 0.5)


PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))


class PrivatePostgres:
    """A PostgreSQL 15 server of the test's own, in a temporary directory.

    For tests that kill PostgreSQL: never the machine's server. Run as the
    `postgres` OS user when the tests run as root (PostgreSQL refuses root),
    as the current user otherwise. `kill()` is SIGKILL to the postmaster and
    every backend at once: no shutdown checkpoint, no WAL flushed on the way
    out; `start()` again runs crash recovery from the WAL.
    """

    def __init__(self, root: Path, settings: dict[str, str] | None = None):
        self.root = root
        self.settings = settings or {}  # extra server settings (-c name=value)
        self.data = root / "data"
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self._user = "postgres" if os.geteuid() == 0 else None
        if self._user:
            import pwd

            entry = pwd.getpwnam(self._user)
            os.chown(root, entry.pw_uid, entry.pw_gid)

    def _run_as(self) -> dict:
        return {"user": self._user, "group": self._user} if self._user else {}

    def initdb(self) -> None:
        subprocess.run(
            [str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust"]
            + ["-E", "UTF8", "--locale", "C.UTF-8", "--no-sync"],
            check=True,
            capture_output=True,
            timeout=60,
            **self._run_as(),
        )

    def start(self, attempts: int = 3) -> None:
        """Start on a free port; another port when the first was taken meanwhile."""
        for attempt in range(attempts):
            port = self.port or free_port()
            log = open(self.root / "postgres.log", "ab")  # noqa: SIM115 - the server's lifetime
            self.proc = subprocess.Popen(
                [str(PG_BIN / "postgres"), "-D", str(self.data), "-p", str(port)]
                + ["-c", "listen_addresses=127.0.0.1"]
                + ["-c", f"unix_socket_directories={self.root}"]
                + [part for item in self.settings.items() for part in ("-c", "=".join(item))],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: killed whole
                **self._run_as(),
            )
            log.close()
            try:
                self._wait_ready(port)
                self.port = port
                return
            except RuntimeError:
                if attempt == attempts - 1 or self.port:
                    raise
        raise AssertionError("unreachable")

    def _wait_ready(self, port: int, timeout: float = 30) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"postgres exited: see {self.root / 'postgres.log'}")
            try:
                psycopg.connect(self.url("postgres", "postgres", port), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                time.sleep(0.1)
        raise TimeoutError(f"postgres not ready on {port} after {timeout}s")

    def url(self, user: str, database: str, port: int | None = None) -> str:
        return f"postgres://{user}@127.0.0.1:{port or self.port}/{database}"

    def kill(self) -> None:
        """SIGKILL the whole server at once, mid-whatever it is doing."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # smart shutdown
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


@contextmanager
def private_postgres(settings: dict[str, str] | None = None, root: Path | None = None):
    """A fresh private PostgreSQL server, stopped and removed at the end.

    `settings` are passed as `-c name=value`; `root` (a new, empty folder) lets
    the caller put files there first (a certificate and key for ssl=on).
    """
    import shutil
    import tempfile

    root = root or Path(tempfile.mkdtemp(prefix="auditlog-pg-"))
    server = PrivatePostgres(root, settings)
    try:
        server.initdb()
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
