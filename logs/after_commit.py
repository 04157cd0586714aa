"""What happens to stored events after their COMMIT: one visible list of consumers.

`events_committed(tenant_id, rows)` runs once per successful write request,
after its COMMIT (services schedule it with `transaction.on_commit`), with the
whole batch of newly stored rows (duplicates are not repeated), in the shape
selectors return. It hands them to each consumer of CONSUMERS, in order. A
failing consumer is logged, never turned into an error: the events are
already safely stored. A new consumer (search indexing, alerts, log streams)
is one more entry here; consumers that must see every event exactly once in
effect (search indexing, alerts, log streams) hang off the pipeline instead
(pipeline/consumers.py), whose announcement is an entry here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from pipeline.announce import announce

from . import stream

logger = logging.getLogger(__name__)

Consumer = Callable[[str, list[dict]], object]


def _live_stream(tenant_id: str, events: list[dict]) -> None:
    """The WebSocket stream: one channel-layer message per request (logs/stream.py)."""
    stream.on_events_committed(tenant_id, events)


def _pipeline(tenant_id: str, events: list[dict]) -> None:
    """The event pipeline: one SQS message for the batch (pipeline/announce.py).

    The batch's row was written with the events; this only wakes a worker.
    """
    announce(tenant_id, "insert", len(events))


CONSUMERS: list[Consumer] = [_live_stream, _pipeline]


def events_committed(tenant_id: str, events: list[dict]) -> None:
    """Hand the committed rows to every consumer; log, never raise, a failure."""
    for consume in CONSUMERS:
        try:
            consume(tenant_id, events)
        except Exception:
            logger.exception(
                "after-commit consumer %s failed", getattr(consume, "__name__", consume)
            )


def events_deleted(tenant_id: str, deleted: int) -> None:
    """After a retention deletion's COMMIT: announce its batch (logged, never raised)."""
    try:
        announce(tenant_id, "delete", deleted)
    except Exception:
        logger.exception("announcing a deletion failed; the pipeline sweep will catch up")
