"""A private redis-server that a test may stop and start (never the machine's)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time

import redis

from tests.processes import free_port


class PrivateRedis:
    """redis-server on a free port, no persistence, in its own temp dir.

    `stop()` and `start()` take it down and bring it back on the same port
    (empty: nothing is saved), each within a deadline.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.dir = tempfile.mkdtemp(prefix="auditlog-redis-")
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 10) -> None:
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--save", "", "--appendonly", "no", "--dir", self.dir]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.client().ping():
                    return
            except redis.RedisError:
                time.sleep(0.05)
        raise TimeoutError(f"private redis-server on {self.port} did not start in {timeout}s")

    def stop(self, timeout: float = 10) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=timeout)
        self.proc = None

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=1, socket_connect_timeout=1)

    def close(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
