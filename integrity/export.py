"""Exports that carry their proofs: `GET /api/v1/logs/export?format=json&proofs=true`.

The body is the standalone verifier's bundle (integrity/verifier.py):

    {"checkpoint": {...the latest signed checkpoint...},
     "events": [{...the event as the API shows it...,
                 "integrity": {"leaf_index", "record", "path"}}, ...],
     "not_covered": [ids of exported events no checkpoint covers yet]}

Streamed like every export: one transaction (one snapshot) with the tenant
activated, rows read in chunks. Memory: the tree's hashes below the
checkpoint's size (about 64 bytes a leaf) and one chunk of events.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Generator, Iterator
from itertools import islice
from uuid import UUID

from django.db import connection, transaction
from django.db.models import QuerySet

from encryption.rows import open_rows
from logs.models import Event
from logs.wire import event_json
from tenants.scoping import activate

from . import encoding, rows, selectors
from .merkle import MerkleLevels, inclusion_proof

logger = logging.getLogger(__name__)

LEAVES_SQL = (
    "SELECT event_id, leaf_index FROM integrity_leaf "
    "WHERE tenant_id = %s AND event_id = ANY(%s::uuid[])"
)


def bundle_stream(
    *, tenant_id: str, events: QuerySet[Event], chunk_size: int
) -> Generator[bytes, None, None]:
    """The bundle of `events` (a filtered, ordered queryset), as UTF-8 blocks."""
    with transaction.atomic():
        activate(tenant_id)
        checkpoint = selectors.latest_checkpoint(tenant_id=tenant_id)
        size = checkpoint.tree_size if checkpoint else 0
        levels = MerkleLevels(selectors.leaf_hashes(tenant_id, size))
        signed = checkpoint.as_signed() if checkpoint else None
        yield f'{{"checkpoint": {json.dumps(signed)}, "events": ['.encode()
        not_covered: list[str] = []
        separator = ""
        keys = events.values_list("id", "timestamp").iterator(chunk_size=chunk_size)
        for chunk in _chunks(keys, chunk_size):
            block = []
            for item in _proved(tenant_id, chunk, levels, not_covered):
                block.append(separator + json.dumps(item, ensure_ascii=False))
                separator = ", "
            if block:
                yield "".join(block).encode()
        yield f'], "not_covered": {json.dumps(not_covered)}}}\n'.encode()


def _chunks(items: Iterator, size: int) -> Iterator[list]:
    while chunk := list(islice(items, size)):
        yield chunk


def _proved(
    tenant_id: str, chunk: list[tuple], levels: MerkleLevels, not_covered: list[str]
) -> Iterator[dict]:
    ids = [event_id for event_id, _ in chunk]
    stored = rows.by_ids(tenant_id, ids, [moment for _, moment in chunk])
    with connection.cursor() as cursor:
        cursor.execute(LEAVES_SQL, [tenant_id, ids])
        at: dict[UUID, int] = dict(cursor.fetchall())
    for event_id in ids:
        row = stored.get(event_id)
        index = at.get(event_id)
        if row is None:
            continue
        if index is None or index >= levels.size:
            not_covered.append(str(event_id))
            continue
        record = encoding.event_record(row).decode()
        shown = dict(row)
        open_rows([shown])
        path = inclusion_proof(index, levels.size, levels.subtree)
        yield {
            **event_json(shown),
            "integrity": {"leaf_index": index, "record": record, "path": [p.hex() for p in path]},
        }
