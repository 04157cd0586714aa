"""Start real service processes (ASGI and WSGI servers, nginx, Celery) for tests.

Command lines come from scripts/servers.py, the one place `make run`, Docker
and the bench take them from.
"""

from __future__ import annotations

import os
import shutil
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


def free_port() -> int:
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


@contextmanager
def running(args: list[str], env: dict[str, str], log_name: str, port: int | None = None):
    """Run a process for the duration of the block; its output goes to .run/."""
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
            if port is not None:
                wait_for_port(port, proc)
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def asgi_server(env: dict[str, str], port: int, *extra: str):
    """uvicorn as the `stream` process runs (no persistent database connections).

    `extra` arguments are appended (e.g. a log level, or the access log on).
    """
    env = {**env, "DATABASE_CONN_MAX_AGE": "0"}
    return running([*servers.uvicorn(port), *extra], env, f"asgi-{port}", port=port)


def wsgi_server(env: dict[str, str], port: int, workers: int = 2):
    """gunicorn sync workers, as `make run` and production serve HTTP."""
    args = servers.gunicorn(port, workers) + ["--log-level", "warning"]
    return running(args, env, f"wsgi-{port}", port=port)


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


def celery_worker(env: dict[str, str]):
    args = [sys.executable, "-m", "celery", "-A", "auditlog_project", "worker"]
    args += ["--pool", "solo", "--queues", "default", "--loglevel", "INFO"]
    args += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    return running(args, env, "celery-worker")
