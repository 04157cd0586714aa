"""Start real service processes (ASGI server, Celery worker) for tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connections

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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


def asgi_server(env: dict[str, str], port: int):
    args = [sys.executable, "-m", "uvicorn", "auditlog_project.asgi:application"]
    args += ["--host", "127.0.0.1", "--port", str(port), "--lifespan", "off"]
    return running(args, env, f"asgi-{port}", port=port)


def wsgi_server(env: dict[str, str], port: int, workers: int = 2):
    """gunicorn sync workers, as `make run` and production serve HTTP."""
    args = [str(Path(sys.executable).with_name("gunicorn")), "auditlog_project.wsgi:application"]
    args += ["--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--log-level", "warning"]
    return running(args, env, f"wsgi-{port}", port=port)


def celery_worker(env: dict[str, str]):
    args = [sys.executable, "-m", "celery", "-A", "auditlog_project", "worker"]
    args += ["--pool", "solo", "--queues", "default", "--loglevel", "INFO"]
    args += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    return running(args, env, "celery-worker")
