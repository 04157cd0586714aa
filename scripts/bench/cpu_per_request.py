"""CPU per request under load, by process: the web server, PostgreSQL and Redis.

    python scripts/bench/cpu_per_request.py PORT [--seconds 15] [--database auditlog_bench]

Runs the bench's single-POST wrk script (.run/bench-single.lua, written by
`make bench`; 2 threads, 32 connections) against a server on 127.0.0.1:PORT
and reads, from /proc, the CPU time the gunicorn processes bound to that port,
the PostgreSQL backends of the database (and the WAL writer) and Redis used
meanwhile, divided by the requests wrk completed. Unlike requests/s, the CPU a
request costs changes little with the machine's other load, so two builds
can be compared on a shared machine (alternate them). Prints one line.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HZ = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pattern: str) -> float:
    total = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            if not re.search(pattern, command):
                continue
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total / HZ


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", type=int)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--database", default=os.environ.get("BENCH_DATABASE", "auditlog_bench"))
    args = parser.parse_args()
    patterns = {
        "web": rf"gunicorn .*127\.0\.0\.1:{args.port}",
        "postgresql": rf"postgres: .*(auditlog_app {args.database} |walwriter)",
        "redis": r"redis-server",
    }
    before = {name: cpu_seconds(p) for name, p in patterns.items()}
    wrk = subprocess.run(
        ["wrk", "-t2", "-c32", f"-d{args.seconds}s", "-s", str(ROOT / ".run" / "bench-single.lua"),
         f"http://127.0.0.1:{args.port}"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    after = {name: cpu_seconds(p) for name, p in patterns.items()}
    line = next(x for x in wrk.stdout.splitlines() if x.startswith("BENCH ")).split()
    requests, micros, p50, _p95, p99 = int(line[1]), int(line[2]), line[3], line[4], line[5]
    used = {name: (after[name] - before[name]) * 1000 / requests for name in patterns}
    parts = ", ".join(f"{name} {ms:.2f}" for name, ms in used.items())
    rate = requests / (micros / 1e6)
    print(
        f"{rate:.0f} requests/s, p50 {float(p50):.1f} / p99 {float(p99):.1f} ms; "
        f"CPU ms per request: {parts}; total {sum(used.values()):.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
