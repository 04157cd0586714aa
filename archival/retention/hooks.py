"""What must follow events when retention deletes them, besides keys and rollups.

Idempotency keys and stats-rollup marks go in the same statement as the
events (archival/retention/deletion.py). Anything kept outside PostgreSQL that
describes events (a search index: the pipeline issue) registers a callable in
`ON_DAY_DELETED`; it is called once a tenant's day is fully deleted, before the
step is marked done, so a crash calls it again: it must be idempotent.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

DayDeleted = Callable[[str, datetime, datetime], None]  # tenant_id, start, end (UTC, [start, end))

ON_DAY_DELETED: list[DayDeleted] = []


def day_deleted(tenant_id: str, start: datetime, end: datetime) -> None:
    for hook in ON_DAY_DELETED:
        hook(tenant_id, start, end)
