"""The registry of pipeline consumers: each one a name, a handler and a watermark.

A consumer is declared once (a `Consumer` value in its own module) and listed
by dotted path in settings.PIPELINE_CONSUMERS; the drain (pipeline/drain.py)
gives each its own durable watermark (`ConsumerState`, keyed by `name`), its
own lock and its own failure count, so one consumer's outage or poison batch
never holds back another. Adding a consumer (alerts, log streams) is one
module with a `Consumer` and one line in the setting.

The handler gets the pending batches in commit order and must be idempotent:
a batch may be handed to it again after a crash (at least once), never
skipped. It runs inside the drain's transaction (in a savepoint of its own),
so what it writes to PostgreSQL commits together with the watermark: exactly
once. Effects outside PostgreSQL (OpenSearch, webhooks) must be keyed so a
repeat does no harm (documents by event id, deliveries by batch id).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from uuid import UUID

from django.conf import settings
from django.utils.module_loading import import_string


@dataclass(frozen=True)
class PendingBatch:
    """One committed write a consumer has not handled yet.

    `kind` "insert": `rows` are the stored events (the shape selectors return,
    EVENT_FIELDS order) that still exist; "delete": the tenant's events dated
    before `before` were deleted (retention), from `timestamps[0]` on when
    `timestamps` is set (a day deleted by the retention run).
    """

    id: int
    xid: int
    tenant_id: str
    kind: str
    created_at: datetime
    events: int
    ids: tuple[UUID, ...] = ()
    timestamps: tuple[datetime, ...] = ()
    before: datetime | None = None
    rows: list[dict] = field(default_factory=list)


Handler = Callable[[Sequence[PendingBatch]], None]


@dataclass(frozen=True)
class Consumer:
    name: str
    handle: Handler
    wants_rows: bool = True  # False: the handler needs the batch description only
    description: str = ""


@lru_cache(maxsize=4)
def _load(paths: tuple[str, ...]) -> tuple[Consumer, ...]:
    loaded = tuple(import_string(path) for path in paths)
    names = [consumer.name for consumer in loaded]
    if len(set(names)) != len(names):
        raise ValueError(f"PIPELINE_CONSUMERS: duplicate consumer names {names}")
    return loaded


def registered() -> tuple[Consumer, ...]:
    """The consumers of settings.PIPELINE_CONSUMERS, in order."""
    return _load(tuple(settings.PIPELINE_CONSUMERS))


def by_name(name: str) -> Consumer:
    for consumer in registered():
        if consumer.name == name:
            return consumer
    raise LookupError(f"no pipeline consumer named {name!r}")
