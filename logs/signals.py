"""After-commit side effects of ingest, in one place.

`events_committed` runs once per successful write request, after its COMMIT, with
the whole batch of newly stored events (duplicates are not repeated). Later
features (the live stream, search indexing) connect receivers to
`events_committed_signal`; a failing receiver is logged, never turned into an
error for a request whose events are already safely stored.
"""

from __future__ import annotations

import logging

from django.dispatch import Signal

logger = logging.getLogger(__name__)

# Receivers get `tenant_id: str` and `events: list[dict]` (stored rows, as
# selectors return them).
events_committed_signal = Signal()


def events_committed(tenant_id: str, events: list[dict]) -> None:
    for receiver, result in events_committed_signal.send_robust(
        sender=None, tenant_id=tenant_id, events=events
    ):
        if isinstance(result, Exception):
            logger.error("events_committed receiver %r failed", receiver, exc_info=result)
