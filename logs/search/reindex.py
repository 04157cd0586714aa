"""Rebuilding the OpenSearch index from PostgreSQL (the source of truth).

A tenant's events are read in keyset order (timestamp, id), a chunk per
transaction under the tenant's row-level security, and sent in bulk
requests. Idempotent (documents are keyed by tenant and event id) and safe
while ingest and the indexing consumer run: an event indexed by both is the
same document twice. Progress is reported after every chunk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from django.db import transaction
from django.db.models import Q

from tenants.scoping import activate

from ..fields import EVENT_FIELDS
from ..models import Event
from . import client as cluster
from . import indexer

Progress = Callable[[str, int, int], None]  # tenant, done, total


def tenant_total(tenant_id: str) -> int:
    with transaction.atomic():
        activate(tenant_id)
        return Event.objects.filter(tenant_id=tenant_id).count()


def chunks(tenant_id: str, size: int) -> Iterator[list[dict]]:
    """The tenant's events, oldest first, `size` at a time (one transaction each)."""
    after: tuple | None = None
    while True:
        with transaction.atomic():
            activate(tenant_id)
            events = Event.objects.filter(tenant_id=tenant_id)
            if after is not None:
                events = events.filter(
                    Q(timestamp__gt=after[0]) | Q(timestamp=after[0], id__gt=after[1])
                )
            rows = list(events.order_by("timestamp", "id").values(*EVENT_FIELDS)[:size])
        if not rows:
            return
        yield rows
        after = (rows[-1]["timestamp"], rows[-1]["id"])


def reindex_tenant(tenant_id: str, *, chunk: int, progress: Progress, os_client=None) -> int:
    """Index every stored event of the tenant; the number indexed."""
    os_client = os_client or cluster.client()
    index = cluster.ensure_index(os_client)
    total, done = tenant_total(tenant_id), 0
    progress(tenant_id, 0, total)
    for rows in chunks(tenant_id, chunk):
        done += indexer.index_rows(tenant_id, rows, os_client, index)
        progress(tenant_id, done, total)
    return done
