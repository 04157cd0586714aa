"""HTTP load: bulk ingest from threads, single POSTs with wrk, timed GETs."""

from __future__ import annotations

import http.client
import json
import shutil
import statistics
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


class Client:
    """One keep-alive HTTP/1.1 connection with a bearer token."""

    def __init__(self, port: int, token: str):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        self.conn.request(method, path, body=body, headers=self.headers)
        response = self.conn.getresponse()
        return response.status, response.read()

    def timed_get(self, path: str) -> tuple[float, dict]:
        started = time.perf_counter()
        status, body = self.request("GET", path)
        elapsed = (time.perf_counter() - started) * 1000
        if status != 200:
            raise RuntimeError(f"GET {path} -> {status}: {body[:300]!r}")
        return elapsed, json.loads(body)


def bulk_ingest(port: int, token: str, bodies: list[bytes], threads: int) -> dict:
    """POST every body to /api/v1/logs/bulk from `threads` connections; events/s."""
    queue = list(enumerate(bodies))
    lock = threading.Lock()
    created, failures, latencies = [0], [], []

    def work():
        client = Client(port, token)
        while True:
            with lock:
                if not queue:
                    return
                _, body = queue.pop()
            started = time.perf_counter()
            status, payload = client.request("POST", "/api/v1/logs/bulk", body)
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed * 1000)
                if status == 201:
                    created[0] += json.loads(payload)["created"]
                else:
                    failures.append((status, payload[:200]))

    workers = [threading.Thread(target=work) for _ in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"bulk ingest failures: {failures[:3]}")
    return {
        "events": created[0],
        "seconds": elapsed,
        "rate": created[0] / elapsed,
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
    }


WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer __TOKEN__"
local tenants = {__TENANTS__}
local actions = {"VIEW", "UPDATE", "LOGIN", "CREATE", "DELETE"}
math.randomseed(42)
request = function()
  local body = string.format(
    '{"tenant_id":"%s","user_id":"user-%03d","action":"%s","resource_type":"document",'
    .. '"resource_id":"document-%d","severity":"INFO","message":"single event %d",'
    .. '"metadata":{"source":"wrk","n":%d}}',
    tenants[math.random(#tenants)], math.random(200), actions[math.random(#actions)],
    math.random(2000), math.random(1000000000), math.random(1000))
  return wrk.format(nil, "/api/v1/logs", nil, body)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH %d %d %.3f %.3f %.3f %.3f %d\\n",
    summary.requests, summary.duration, latency:percentile(50) / 1000,
    latency:percentile(95) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    e.status + e.connect + e.read + e.write + e.timeout))
end
"""


def single_posts(
    port: int, token: str, tenants: list[str], seconds: int, clients: int = 32
) -> dict:
    """Single-event POSTs at `clients` concurrent connections, measured by wrk."""
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed (apt-get install wrk)")
    script = ROOT / ".run" / "bench-single.lua"
    names = ", ".join(f'"{t}"' for t in tenants)
    script.write_text(WRK_SCRIPT.replace("__TOKEN__", token).replace("__TENANTS__", names))
    result = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{clients}",
            f"-d{seconds}s",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}",
        ],  # noqa: E501
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    )
    line = next((x for x in result.stdout.splitlines() if x.startswith("BENCH ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary: {result.stdout}\n{result.stderr}")
    requests, micros, p50, p95, p99, worst, errors = line.split()[1:]
    return {
        "requests": int(requests),
        "rate": int(requests) / (int(micros) / 1e6),
        "p50_ms": float(p50),
        "p95_ms": float(p95),
        "p99_ms": float(p99),
        "max_ms": float(worst),
        "errors": int(errors),
    }


def summarize(latencies: list[float]) -> dict:
    return {
        "n": len(latencies),
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
        "mean_ms": statistics.fmean(latencies) if latencies else float("nan"),
    }


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")
