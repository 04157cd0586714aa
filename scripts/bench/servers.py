"""The service processes the benchmark drives, started like `make run` starts them.

The command lines and the nginx config come from scripts/servers.py.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

from scripts import servers as topology

ROOT = Path(__file__).resolve().parents[2]


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}; see .run/bench-*.log")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"nothing listens on {port}")


@contextmanager
def process(name: str, args: list[str], env: dict, port: int | None = None):
    log = open(ROOT / ".run" / f"bench-{name}.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        if port:
            wait_for_port(port, proc)
            time.sleep(1.0)  # let every worker finish booting
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def wsgi(env: dict, port: int, workers: int):
    args = topology.gunicorn(port, workers) + ["--log-level", "warning"]
    return process(f"wsgi-{port}", args, env, port)


def asgi(env: dict, port: int, workers: int):
    args = topology.uvicorn(port, workers=workers) + ["--log-level", "warning"]
    return process(f"asgi-{port}", args, {**env, **topology.ASGI_DATABASE}, port)


@contextmanager
def sqs(endpoint_url: str):
    """A moto server on the local ENDPOINT_URL for the run, unless one answers there."""
    from urllib.parse import urlsplit

    endpoint = urlsplit(endpoint_url)
    host, port = endpoint.hostname or "", endpoint.port or 0
    if host not in topology.LOCAL_HOSTS or not port or topology.answers(host, port):
        yield
        return
    with process(f"moto-{port}", topology.moto(host, port), dict(os.environ), port):
        yield


@contextmanager
def served(env: dict, public: int, workers: int, export_workers: int = 2):
    """nginx on PUBLIC in front of the web and export pools, as `make run` runs them."""
    ports = topology.Ports(public)
    run_dir = ROOT / ".run" / "bench-nginx"
    (run_dir / "nginx").mkdir(parents=True, exist_ok=True)
    (run_dir / "nginx" / "nginx.conf").write_text(topology.nginx_conf(run_dir, ports))
    behind = {**env, **topology.ENV["web"]}
    try:
        with ExitStack() as stack:
            for port, count in ((ports.web, workers), (ports.export, export_workers)):
                args = topology.gunicorn(port, count) + ["--log-level", "warning"]
                stack.enter_context(process(f"wsgi-{port}", args, behind, port))
            nginx = topology.nginx(run_dir)
            stack.enter_context(process(f"nginx-{public}", nginx, env, public))
            yield ports
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


def rss_kib(pid: int) -> int:
    """Resident memory of a process and its children (gunicorn workers), KiB."""
    total = 0
    pids = [pid] + _children(pid)
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return total


def own_rss_kib(pid: int) -> int:
    """Resident memory of one process alone (not its children), KiB; 0 once gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    try:
        out = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except FileNotFoundError:
        return []
    kids = [int(c) for c in out]
    return kids + [g for k in kids for g in _children(k)]


def env_for(database_url: str, extra: dict | None = None) -> dict:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="auditlog_project.settings.local",
        DJANGO_DEBUG="false",
        LOG_LEVEL="WARNING",
        # The bench measures searches, stats and exports flat out from one user;
        # writes (and the concurrent-export cap) keep their defaults, which must
        # let ingest reach its goals.
        **{
            f"RATE_LIMIT_{kind}_PER_{who}": "100000000/m"
            for kind in ("READ", "STATS", "EXPORT")
            for who in ("USER", "TENANT")
        },
        JWT_ACCESS_MINUTES="240",
    )
    env.update(extra or {})
    return env
