"""Shared parts of the archive commands: day ranges and a progress line."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

from django.core.management.base import CommandError, OutputWrapper


def parse_day(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{option}: {value!r} is not a date (YYYY-MM-DD).") from None


def day_range(first: str, last: str, *, ended_only: bool) -> list[date]:
    """The UTC days from --from to --to, both included; with `ended_only`, days
    that have ended (an archive of today would miss its later events)."""
    start, end = parse_day(first, "--from"), parse_day(last, "--to")
    if end < start:
        raise CommandError("--to is before --from.")
    today = datetime.now(UTC).date()
    if ended_only and end >= today:
        raise CommandError(f"--to must be a day that has ended (before {today}, UTC).")
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


class Progress:
    """One line rewritten in place on a terminal; a line per step otherwise (logs)."""

    def __init__(self, out: OutputWrapper, total: int, label: str) -> None:
        self.out, self.total, self.label = out, total, label
        self.done = self.rows = 0
        self.started = time.monotonic()
        self.tty = out.isatty()

    def step(self, detail: str, rows: int) -> None:
        self.done += 1
        self.rows += rows
        rate = self.rows / max(time.monotonic() - self.started, 1e-6)
        line = (
            f"{self.label} {self.done}/{self.total} ({100 * self.done // self.total}%) "
            f"{self.rows} rows, {rate:,.0f} rows/s - {detail}"
        )
        if self.tty:
            self.out.write(f"\r\033[K{line}", ending="")
            self.out.flush()
        else:
            self.out.write(line)

    def finish(self) -> None:
        if self.tty:
            self.out.write("")


def each_day(tenant_ids: list[str], days: list[date]) -> Iterator[tuple[str, date]]:
    for tenant_id in tenant_ids:
        for day in days:
            yield tenant_id, day
