"""The export, stream and stats rows of the benchmark (issue 5)."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import socket
import threading
import time
from pathlib import Path

import load
import servers

EXPORT_TENANT = "bench-export"


def export(port: int, token: str, tenant: str, fmt: str, master_pid: int) -> dict:
    """Stream one export to the end; rows/s and the resident memory of the
    worker process that serves it (found by its end of this TCP connection)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    started = time.perf_counter()
    conn.request(
        "GET",
        f"/api/v1/logs/export?tenant_id={tenant}&format={fmt}",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert conn.sock is not None  # connected by request(); getresponse() may drop it
    client_port = conn.sock.getsockname()[1]
    response = conn.getresponse()
    if response.status != 200:
        raise RuntimeError(f"export -> {response.status}: {response.read(300)!r}")
    worker = serving_pid(master_pid, port, client_port)
    first = peak = servers.own_rss_kib(worker)
    stop = threading.Event()

    def sample():
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, servers.own_rss_kib(worker))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
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
        "rss_before_mib": first / 1024,
        "rss_peak_mib": peak / 1024,
    }


def serving_pid(master_pid: int, server_port: int, client_port: int) -> int:
    """The gunicorn worker holding the server end of the client's connection.

    /proc/net/tcp names the socket (by inode) whose local port is the server's
    and remote port the client's; the worker is the child that has it open.
    """
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = (int(address.split(":")[1], 16) for address in fields[1:3])
        if (local, remote) == (server_port, client_port):
            inode = fields[9]
            break
    if inode is None:
        raise RuntimeError(f"no server socket for client port {client_port}")
    for pid in servers._children(master_pid):
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(fd) == f"socket:[{inode}]":
                    return pid
            except OSError:
                continue
    raise RuntimeError(f"no worker of {master_pid} holds socket {inode}")


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
