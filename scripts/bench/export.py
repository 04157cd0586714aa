"""Export throughput and memory over HTTP: rows/s, and the web workers' RSS.

`export_rate(port, token, tenant_id, fmt, pids)` streams GET /api/v1/logs/export
and counts rows as they arrive (NDJSON: lines; JSON: lines minus "[" and "]";
CSV: lines minus the header, exact when messages hold no newline, as in the
bench data), while a thread samples the resident memory of `pids` (the web
workers: `worker_pids(master_pid)`). Constant memory shows as an RSS peak
that does not grow with the number of rows exported: compare two runs of
different sizes (e.g. with `start_time`).
"""

from __future__ import annotations

import contextlib
import http.client
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

BLOCK = 1 << 16


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def worker_pids(master_pid: int) -> list[int]:
    """The children of a gunicorn (or uvicorn) master process."""
    tasks = Path(f"/proc/{master_pid}/task")
    return [int(pid) for task in tasks.iterdir() for pid in (task / "children").read_text().split()]


def _sample(pids: list[int], peaks: dict[int, int], stop: threading.Event) -> None:
    while not stop.is_set():
        for pid in pids:
            with contextlib.suppress(OSError):  # a worker that exited
                peaks[pid] = max(peaks.get(pid, 0), rss_kib(pid))
        stop.wait(0.05)


def export_rate(port: int, token: str, tenant_id: str, fmt: str, pids: list[int], **filters):
    """One export: {"rows", "seconds", "rows_per_s", "mib", "rss_before_kib", "rss_peak_kib"}."""
    before = {pid: rss_kib(pid) for pid in pids}
    peaks: dict[int, int] = {}
    stop = threading.Event()
    sampler = threading.Thread(target=_sample, args=(pids, peaks, stop), daemon=True)
    sampler.start()
    query = urlencode({"tenant_id": tenant_id, "format": fmt, **filters})
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    started = time.perf_counter()
    conn.request(
        "GET", f"/api/v1/logs/export?{query}", headers={"Authorization": f"Bearer {token}"}
    )
    response = conn.getresponse()
    if response.status != 200:
        raise RuntimeError(f"export -> {response.status}: {response.read()[:300]!r}")
    lines = size = 0
    while block := response.read(BLOCK):
        lines += block.count(b"\n")
        size += len(block)
    seconds = time.perf_counter() - started
    stop.set()
    sampler.join()
    rows = lines - {"csv": 1, "json": 2}.get(fmt, 0)  # header; "[" and "]" lines
    busiest = max(peaks, key=lambda pid: peaks[pid] - before.get(pid, 0), default=None)
    return {
        "rows": rows,
        "seconds": seconds,
        "rows_per_s": rows / seconds if seconds else 0.0,
        "mib": size / 2**20,
        "rss_before_kib": before.get(busiest, 0),
        "rss_peak_kib": peaks.get(busiest, 0),
    }
