"""Writes of the tamper-evident log: sealing events, signing checkpoints, archiving them.

- `leaves_seal(batches)`: the pipeline's `integrity` consumer. Appends each
  committed event to its tenant's tree, in commit order, once.
- `checkpoint_create(tenant_id=)`: signs the tenant's tree as it is now, when
  it grew since the last checkpoint, chained to that one.
- `checkpoints_archive(tenant_id=)`: copies signed checkpoints to the archive
  bucket, so a copy exists outside the database.

Every function works in one tenant at a time with the tenant activated (row-
level security), and must run inside a transaction.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from uuid import UUID

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.utils import timezone

from archival import storage
from auditlog_project.aws import s3_client
from pipeline.consumers import PendingBatch
from tenants.scoping import activate, activated

from . import encoding, signing
from .blocks import blocks_record
from .merkle import CompactRange, leaf_hash
from .models import Checkpoint, SigningKey, Tree
from .rows import by_ids as rows_by_ids

logger = logging.getLogger(__name__)


def leaves_seal(batches: Sequence[PendingBatch]) -> int:
    """Seal the events of committed batches (in commit order); the number of new leaves.

    Idempotent: an event that has a leaf already is skipped, so a batch handed
    again (a redrive) changes nothing. A `delete` batch (retention) moves the
    tenant's `deleted_before`: its leaves stay, its events are gone by design.
    Signs a checkpoint when INTEGRITY_CHECKPOINT_EVERY leaves were sealed since
    the last one.
    """
    by_tenant: dict[str, list[PendingBatch]] = defaultdict(list)
    for batch in batches:
        by_tenant[batch.tenant_id].append(batch)
    sealed = 0
    for tenant_id, group in by_tenant.items():
        activate(tenant_id)
        sealed += _seal_tenant(tenant_id, group)
    activate("")
    return sealed


def _locked_tree(tenant_id: str) -> Tree:
    Tree.objects.get_or_create(tenant_id=tenant_id)
    return Tree.objects.select_for_update().get(tenant_id=tenant_id)


def _seal_tenant(tenant_id: str, group: list[PendingBatch]) -> int:
    tree = _locked_tree(tenant_id)
    for batch in group:
        if batch.kind == "delete" and batch.before is not None:
            tree.deleted_before = max(filter(None, (tree.deleted_before, batch.before)))
    inserts = [batch for batch in group if batch.kind == "insert"]
    found = rows_by_ids(
        tenant_id,
        [i for batch in inserts for i in batch.ids],
        [t for batch in inserts for t in batch.timestamps],
    )
    rows = [found[i] for batch in inserts for i in batch.ids if i in found]
    edge = CompactRange(tree.size, [bytes.fromhex(h) for h in tree.edge])
    leaves = _new_leaves(tenant_id, rows, edge)
    _insert_leaves(tenant_id, leaves)
    blocks_record(tenant_id, tree.size, [digest for *_, digest in leaves])
    tree.size = edge.size
    tree.edge = [h.hex() for h in edge.hashes]
    tree.save()
    # Without a signing key the task reports it; sealing must not fail (and die) for it.
    due = leaves and tree.size - _last_size(tenant_id) >= settings.INTEGRITY_CHECKPOINT_EVERY
    if due and settings.INTEGRITY_SIGNING_KEY:
        checkpoint_create(tenant_id=tenant_id)
    return len(leaves)


# One statement for a drain's leaves: Django's bulk_create spent two thirds of
# the sealing time building its VALUES list (measured: tests/integrity/bench_integrity.py).
INSERT_LEAVES_SQL = """
    INSERT INTO integrity_leaf (tenant_id, leaf_index, event_id, event_timestamp, hash)
    SELECT %s, * FROM unnest(%s::bigint[], %s::uuid[], %s::timestamptz[], %s::bytea[])
"""

SEALED_SQL = (
    "SELECT event_id FROM integrity_leaf WHERE tenant_id = %s AND event_id = ANY(%s::uuid[])"
)

NewLeaf = tuple[int, UUID, datetime, bytes]  # index, event id, event time, hash


def _new_leaves(tenant_id: str, rows: list[dict], edge: CompactRange) -> list[NewLeaf]:
    """Leaves for the rows not sealed yet, appended to `edge` in order."""
    if not rows:
        return []
    with connection.cursor() as cursor:  # one array parameter, not 5,000 (the ORM's IN)
        cursor.execute(SEALED_SQL, [tenant_id, [row["id"] for row in rows]])
        done = {event_id for (event_id,) in cursor.fetchall()}
    leaves = []
    for row in rows:
        if row["id"] in done:
            continue
        done.add(row["id"])
        digest = leaf_hash(encoding.event_record(row))
        leaves.append((edge.size, row["id"], row["timestamp"], digest))
        edge.append(digest)
    return leaves


def _insert_leaves(tenant_id: str, leaves: list[NewLeaf]) -> None:
    if not leaves:
        return
    columns = [list(column) for column in zip(*leaves, strict=True)]
    with connection.cursor() as cursor:
        cursor.execute(INSERT_LEAVES_SQL, [tenant_id, *columns])


def _last_size(tenant_id: str) -> int:
    last = Checkpoint.objects.filter(tenant_id=tenant_id).order_by("-tree_size").first()
    return last.tree_size if last else 0


@lru_cache(maxsize=4)
def _private_key(secret: str) -> Ed25519PrivateKey:
    return signing.private_key_from_secret(secret)


def signing_key() -> tuple[Ed25519PrivateKey, str]:
    """The installation's signing key and its id, registered (and the others
    retired) the first time it signs."""
    secret = settings.INTEGRITY_SIGNING_KEY
    if not secret:
        raise ImproperlyConfigured("INTEGRITY_SIGNING_KEY is not set: checkpoints cannot be signed")
    key = _private_key(secret)
    public = signing.public_bytes(key)
    key_id = signing.key_id(public)
    current, created = SigningKey.objects.get_or_create(
        key_id=key_id, defaults={"public_key": signing.public_text(public)}
    )
    if created or current.retired_at is not None:
        SigningKey.objects.filter(key_id=key_id).update(retired_at=None)
        SigningKey.objects.exclude(key_id=key_id).filter(retired_at__isnull=True).update(
            retired_at=timezone.now()
        )
    return key, key_id


def checkpoint_create(*, tenant_id: str) -> Checkpoint | None:
    """Sign the tenant's tree as sealed now; None when nothing was sealed since
    the last checkpoint. The checkpoint names the previous one's hash (a chain)
    and is copied to the archive bucket after COMMIT."""
    with transaction.atomic(), activated(tenant_id):
        tree = _locked_tree(tenant_id)
        last = Checkpoint.objects.filter(tenant_id=tenant_id).order_by("-tree_size").first()
        if tree.size == (last.tree_size if last else 0):
            return None
        key, key_id = signing_key()
        edge = CompactRange(tree.size, [bytes.fromhex(h) for h in tree.edge])
        now = encoding.parse_utc(encoding.utc_text(timezone.now()))  # what is signed, exactly
        body = {
            "tenant_id": tenant_id,
            "tree_size": tree.size,
            "root": edge.root().hex(),
            "timestamp": encoding.utc_text(now),
            "previous": encoding.checkpoint_hash(last.as_signed()) if last else "",
            "key_id": key_id,
        }
        checkpoint = Checkpoint.objects.create(
            **{**body, "timestamp": now},
            signature=signing.sign(key, body),
        )
        transaction.on_commit(lambda: _archive_quietly(tenant_id))
    return checkpoint


def _archive_prefix(tenant_id: str) -> str:
    return f"{storage.tenant_prefix(tenant_id)}integrity/checkpoints/"


def archive_key(tenant_id: str, tree_size: int) -> str:
    return f"{_archive_prefix(tenant_id)}{tree_size:020d}.json"


def archived_sizes(tenant_id: str) -> list[int]:
    """The tree sizes of the tenant's checkpoints copied to the archive bucket."""
    storage.ready()
    pages = s3_client().get_paginator("list_objects_v2")
    prefix = _archive_prefix(tenant_id)
    return [
        int(item["Key"][len(prefix) : -len(".json")])
        for page in pages.paginate(Bucket=storage.bucket(), Prefix=prefix)
        for item in page.get("Contents", [])
    ]


def checkpoints_archive(*, tenant_id: str) -> int:
    """Copy the tenant's checkpoints not archived yet to the archive bucket; how many."""
    done = 0
    with transaction.atomic(), activated(tenant_id):
        pending = Checkpoint.objects.select_for_update(skip_locked=True).filter(
            tenant_id=tenant_id, archived_at__isnull=True
        )
        for checkpoint in pending.order_by("tree_size"):
            body = json.dumps(checkpoint.as_signed(), sort_keys=True).encode()
            storage.put_bytes(
                archive_key(tenant_id, checkpoint.tree_size), body, "application/json"
            )
            checkpoint.archived_at = timezone.now()
            checkpoint.save(update_fields=["archived_at"])
            done += 1
    return done


def _archive_quietly(tenant_id: str) -> None:
    """After COMMIT: a failed copy is retried by the next checkpoint task."""
    try:
        storage.ready()
        checkpoints_archive(tenant_id=tenant_id)
    except Exception:  # noqa: BLE001 - the checkpoint is committed; the copy comes later
        logger.exception("could not archive the checkpoints of tenant %s", tenant_id)
