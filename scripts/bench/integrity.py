"""The tamper-evident log's rows of `make bench` (a side bench): sealing,
proofs and full verification, from tests/integrity/bench_integrity.py.

    python scripts/bench/integrity.py

That file runs in pytest's test database (real PostgreSQL, committed writes):
20,000 events in 40 transactions, one drain of the integrity consumer, a
checkpoint, 200 inclusion proofs of random events, one full verification.
This script runs it and prints its figures as a Markdown table, with the
issue's goal for sealing (at least 10,000 events/s).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GOAL = 10_000


def main() -> int:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "auditlog_project.settings.test"}
    env.setdefault("TEST_RUN_ID", "bench_integrity")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-s",
         "tests/integrity/bench_integrity.py"],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )  # fmt: skip
    if proc.returncode:
        print(proc.stdout[-2000:], proc.stderr[-2000:], file=sys.stderr)
        return proc.returncode
    out = proc.stdout
    handler = re.search(r"sealing \(handler\): (\d+) events in [\d.]+ s = ([\d,]+) events/s", out)
    drain = re.search(r"sealing \(drain\): [\d.]+ s = ([\d,]+) events/s", out)
    proof = re.search(r"proof at tree size (\d+): p50 ([\d.]+) ms, p95 ([\d.]+) ms", out)
    verify = re.search(r"full verification: \d+ events, [\d.]+ s = ([\d,]+) events/s", out)
    if not (handler and drain and proof and verify):
        print(out[-2000:], file=sys.stderr)
        return 1
    sealing = int(handler.group(2).replace(",", ""))
    verdict = "meets" if sealing >= GOAL else "misses"
    print("| measure | result | goal |")
    print("|---|---|---|")
    print(f"| sealing, the consumer's handler ({handler.group(1)} events) "
          f"| {handler.group(2)} events/s | {verdict} >= {GOAL:,}/s |")  # fmt: skip
    print(f"| sealing, the whole drain (rows read, two checkpoints signed and archived) "
          f"| {drain.group(1)} events/s | - |")  # fmt: skip
    print(f"| inclusion proof at tree size {proof.group(1)} (200 proofs, in process) "
          f"| p50 {proof.group(2)} / p95 {proof.group(3)} ms | - |")  # fmt: skip
    print(f"| full verification of the tenant | {verify.group(1)} events/s | - |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
