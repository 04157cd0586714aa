"""The side benches of `make bench`: one subsystem each, in a database of its own.

    python scripts/bench/side.py [--events 200000] [--no-docs] [--only archive,backup]

Runs each script below with the same machine and moto endpoint as the main run,
right after it, and collects the Markdown each prints under "Side benches" in
docs/performance.md (between the side:start and side:end markers), with the
commit and the command of each. A script that fails is reported with its exit
status and the last lines it wrote; the others still run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "performance.md"
START, END = "<!-- side:start -->", "<!-- side:end -->"


def scripts(events: int) -> dict[str, tuple[str, list[str], dict[str, str]]]:
    """name -> (what it measures, arguments, extra environment)."""
    test = {"DJANGO_SETTINGS_MODULE": "auditlog_project.settings.test"}
    return {
        "archive": (
            "archive and restore throughput, bytes per event hot vs archived",
            ["--events", str(events)],
            {},
        ),
        "retention": ("chunked delete and partition drop", ["--events", str(events)], {}),
        "backup": ("backup and restore (recovery time)", ["--events", str(events)], {}),
        "pipeline": (
            "announce cost, drain throughput, end-to-end lag at a sustained 1,000 events/s",
            ["--rate", "1000", "--seconds", "60", "--batch", "10", "--writers", "4"],
            {},
        ),
        "planner": ("a tenant new today, before and after ANALYZE", ["--events", str(events)], {}),
        "crypto_micro": ("encryption: seal, open and export cells per event", [], test),
        "indexes": ("the write cost of each index of the events table", ["--rounds", "3"], {}),
        "integrity": ("tamper-evident log: sealing, proof latency, verification", [], {}),
    }


def run_one(name: str, args: list[str], extra: dict[str, str]) -> tuple[int, str, float]:
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench" / f"{name}.py"), *args],
        cwd=ROOT / "scripts" / "bench",
        env={**os.environ, **extra},
        capture_output=True,
        text=True,
    )
    out = proc.stdout.strip()
    if proc.returncode:
        tail = "\n".join((proc.stderr or out).strip().splitlines()[-5:])
        out = f"failed (exit {proc.returncode}):\n\n```\n{tail}\n```"
    return proc.returncode, out, time.monotonic() - started


def commit() -> str:
    return subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()


def write_docs(sections: list[str]) -> None:
    text = DOC.read_text()
    if START not in text:
        text += f"\n## Side benches\n\n{START}\n{END}\n"
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    DOC.write_text(head + START + "\n" + "\n".join(sections) + "\n" + END + tail)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--only", default="", help="comma list of side benches to run")
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    chosen = scripts(args.events)
    if args.only:
        chosen = {k: v for k, v in chosen.items() if k in args.only.split(",")}
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = f"python scripts/bench/side.py --events {args.events}"
    sections = [f"Run {when}, commit {commit()}, `{command}`."]
    failed = 0
    for name, (what, script_args, extra) in chosen.items():
        print(f"side bench {name}: {what}", flush=True)
        rc, out, seconds = run_one(name, script_args, extra)
        failed += rc != 0
        command = " ".join([f"scripts/bench/{name}.py", *script_args])
        sections.append(f"\n### {name}: {what}\n\n`{command}` ({seconds:.0f} s)\n\n{out}\n")
        print(out, flush=True)
    if not args.no_docs:
        write_docs(sections)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
