"""Announcing committed batches on SQS: one message per committed write, after COMMIT.

(Batches that commit while the previous message is being sent, or within
PIPELINE_ANNOUNCE_INTERVAL of it, share the next message: under load a
process sends at most one message per interval, instead of one per request,
whose SQS call cost more CPU than the request's own insert; issue 14. A
consumer then starts at most that much later.)

The batch itself is already durable (its `pipeline_batch` row commits with
the events), so the message is only a wake-up call: a worker that gets it
drains every consumer from its watermark, which covers this batch and any
whose message was lost. Sending must never slow or fail a request: messages
leave from one daemon thread per process, in order; a failed send is logged
and left to the beat sweep (PIPELINE_SWEEP_SECONDS).
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time

from django.conf import settings

logger = logging.getLogger(__name__)

_STOP = object()


class _Sender:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: queue.Queue = queue.Queue()
        self._pid = 0

    def _running(self) -> queue.Queue:
        with self._lock:
            if self._pid != os.getpid():  # created lazily, again after a fork
                self._queue = queue.Queue()
                self._pid = os.getpid()
                threading.Thread(target=self._run, name="pipeline-announce", daemon=True).start()
            return self._queue

    def put(self, message: dict) -> None:
        self._running().put(message)

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until every message put so far has been sent (or failed)."""
        done = threading.Event()
        self._running().put(done)
        done.wait(timeout)

    def _run(self) -> None:
        from .tasks import drain  # the Celery app is ready once a request runs

        pending = self._queue
        sent_at = 0.0
        while True:
            items = [pending.get()]
            wait = sent_at + settings.PIPELINE_ANNOUNCE_INTERVAL - time.monotonic()
            if wait > 0 and not isinstance(items[0], threading.Event):  # a flush goes now
                time.sleep(wait)
            while not pending.empty() and len(items) < 1000:  # what queued meanwhile
                items.append(pending.get_nowait())
            batches = [item for item in items if not isinstance(item, threading.Event)]
            if batches:
                self._send(drain, batches)
                sent_at = time.monotonic()
            for item in items:
                if isinstance(item, threading.Event):
                    item.set()

    @staticmethod
    def _send(drain, batches: list[dict]) -> None:
        """One message for the batches that queued while the last one was sent:
        any message drains everything committed, so more would be wasted work."""
        first = batches[0]
        kwargs = {
            "tenant_id": first["tenant_id"],
            "kind": first["kind"],
            "events": sum(batch["events"] for batch in batches),
        }
        try:
            drain.apply_async(kwargs=kwargs, retry=False)
        except Exception:  # noqa: BLE001 - the sweep catches up; the write is safe
            logger.exception("pipeline announcement failed; the sweep will catch up")


_sender = _Sender()


def announce(tenant_id: str, kind: str, events: int) -> None:
    """After COMMIT: one SQS message naming the committed batch (a hint, not the data)."""
    if settings.PIPELINE_ANNOUNCE:
        _sender.put({"tenant_id": tenant_id, "kind": kind, "events": events})


def flush(timeout: float = 10.0) -> None:
    """Block until this process's announcements have left (tests, the bench)."""
    _sender.flush(timeout)
