"""The export, stream and stats rows of the benchmark (issue 5)."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import threading
import time

import load
import servers

EXPORT_TENANT = "bench-export"


def export(port: int, token: str, tenant: str, fmt: str, master_pid: int) -> dict:
    """Stream one export to the end; rows/s and the peak RSS of the web workers."""
    peak, stop = [0], threading.Event()
    baseline = _worker_rss(master_pid)

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], _worker_rss(master_pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    started = time.perf_counter()
    conn.request(
        "GET",
        f"/api/v1/logs/export?tenant_id={tenant}&format={fmt}",
        headers={"Authorization": f"Bearer {token}"},
    )
    response = conn.getresponse()
    if response.status != 200:
        raise RuntimeError(f"export -> {response.status}: {response.read(300)!r}")
    lines = size = 0
    while chunk := response.read(1 << 16):
        lines += chunk.count(b"\n")
        size += len(chunk)
    elapsed = time.perf_counter() - started
    stop.set()
    sampler.join()
    rows = lines - 1 if fmt == "csv" else lines  # csv has a header row
    return {
        "format": fmt,
        "rows": rows,
        "mib": size / 2**20,
        "seconds": elapsed,
        "rate": rows / elapsed,
        "rss_before_mib": baseline / 1024,
        "rss_peak_mib": peak[0] / 1024,
    }


def _worker_rss(master_pid: int) -> int:
    """The largest resident size among the WSGI workers (one serves the export), KiB."""
    workers = servers._children(master_pid)
    return max((servers.rss_kib(pid) for pid in workers), default=0)


def stream_latency(http_port: int, ws_port: int, token: str, tenant: str, count: int) -> dict:
    """Milliseconds from a 201 to the event's arrival on a subscribed WebSocket."""
    import websockets

    async def scenario() -> list[float]:
        url = f"ws://127.0.0.1:{ws_port}/api/v1/logs/stream?tenant_id={tenant}"
        latencies = []
        protocols = ["auditlog.v1", f"auditlog.token.{token}"]  # never in the URL
        async with websockets.connect(url, max_size=None, subprotocols=protocols) as ws:
            json.loads(await ws.recv())  # subscribed
            client = load.Client(http_port, token)
            for i in range(count):
                body = json.dumps(
                    {"tenant_id": tenant, "user_id": "stream-probe", "action": "VIEW",
                     "resource_type": "document", "message": f"probe {i}"}
                ).encode()  # fmt: skip
                status, payload = await asyncio.to_thread(
                    client.request, "POST", "/api/v1/logs", body
                )
                acknowledged = time.perf_counter()
                if status != 201:
                    raise RuntimeError(f"POST -> {status}: {payload[:200]!r}")
                wanted = json.loads(payload)["id"]
                while True:
                    message = json.loads(await asyncio.wait_for(ws.recv(), 10))
                    if message.get("event", {}).get("id") == wanted:  # heartbeats skipped
                        break
                latencies.append((time.perf_counter() - acknowledged) * 1000)
        return latencies

    return load.summarize(asyncio.run(scenario()))


def stats(port: int, token: str, tenant: str, requests: int) -> dict:
    client = load.Client(port, token)
    latencies = []
    for i in range(requests):
        bucket = "day" if i % 2 else "hour"
        elapsed, body = client.timed_get(f"/api/v1/logs/stats?tenant_id={tenant}&bucket={bucket}")
        latencies.append(elapsed)
    return {**load.summarize(latencies), "total": body["total"]}


def list_during_slow_exports(
    port: int, token: str, export_tenant: str, list_tenant: str, requests: int, stalled: int = 8
) -> dict:
    """List latency of one tenant through nginx, idle and while STALLED exports hang.

    Each stalled download reads its status line and then nothing more, like a
    client that stopped reading; they stay open while the list requests run.
    """
    path = f"/api/v1/logs?tenant_id={list_tenant}&page_size=50"
    idle = _list_latencies(port, token, path, requests)
    sockets = [_stalled_export(port, token, export_tenant) for _ in range(stalled)]
    try:
        time.sleep(1)
        during = _list_latencies(port, token, path, requests)
    finally:
        for sock in sockets:
            sock.close()
    return {"idle": load.summarize(idle), "during": load.summarize(during), "stalled": stalled}


def _list_latencies(port: int, token: str, path: str, requests: int) -> list[float]:
    client = load.Client(port, token)
    return [client.timed_get(path)[0] for _ in range(requests)]


def _stalled_export(port: int, token: str, tenant: str) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(60)
    sock.connect(("127.0.0.1", port))
    sock.sendall(
        f"GET /api/v1/logs/export?tenant_id={tenant}&format=csv HTTP/1.1\r\n"
        f"Host: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\r\n".encode()
    )
    status = sock.recv(64)
    if not status.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"export -> {status!r}")
    return sock
