"""A consumer's watermark: a PostgreSQL snapshot, so commit order is what counts.

The classic trap: a watermark on a sequence or a time ("everything up to id
N is done") skips the rows of a transaction that took a smaller number but
committed after a larger one. Here a batch row carries its transaction's id
(xid8), and a consumer's watermark is a snapshot `xmin:xmax:xip`: the set of
transactions that had finished when it was taken. A consumer handles the
batches visible in a fresh snapshot and not in its watermark, then stores
the fresh snapshot (or the part of it below a cut-off, when it stopped
early) as its new watermark. A transaction that was still running is
invisible in both, so it is handled by a later drain, however late it
commits: nothing is skipped, and nothing is handled twice by a drain that
finishes. See docs/adr/0014-pipeline-outbox-and-snapshot-watermarks.md.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Snapshot:
    """The text form of PostgreSQL's `pg_snapshot`: xmin, xmax, in-progress xids."""

    xmin: int
    xmax: int
    xip: tuple[int, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Snapshot:
        xmin, xmax, xip = text.split(":")
        return cls(int(xmin), int(xmax), tuple(int(x) for x in xip.split(",") if x))

    @classmethod
    def nothing(cls) -> Snapshot:
        """A watermark under which no transaction is visible: a consumer's start."""
        return cls(1, 1)

    def __str__(self) -> str:
        return f"{self.xmin}:{self.xmax}:{','.join(map(str, self.xip))}"

    def visible(self, xid: int) -> bool:
        """As `pg_visible_in_snapshot`: finished before the snapshot was taken."""
        return xid < self.xmin or (xid < self.xmax and xid not in self.xip)

    def below(self, cutoff: int) -> Snapshot:
        """This snapshot restricted to transactions before `cutoff`.

        Visible in the result: exactly the xids visible here that are < cutoff.
        Used when a drain handled the pending batches below `cutoff` only.
        """
        xmax = min(self.xmax, cutoff)
        xmin = min(self.xmin, xmax)
        return Snapshot(xmin, xmax, tuple(x for x in self.xip if xmin <= x < xmax))
