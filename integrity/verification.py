"""Full verification of a tenant's log against its leaves and signed checkpoints.

`tenant_verify(tenant_id=, since=, until=)` reads, in one transaction with the
tenant activated, and returns every finding (`Finding`, naming the event id,
the leaf index or the checkpoint):

- each stored event of the range against its leaf: a different record is
  `edited` (an update of any column, two swapped timestamps: each event);
- each leaf of the range without its event is `deleted`, unless retention
  deleted the tenant's events dated before it (`Tree.deleted_before`);
- each event of the range without a leaf is `inserted`, unless its batch is
  still waiting for the `integrity` consumer;
- leaves are dense from 0; every checkpoint's root is the root of the leaves
  below its size (a leaf changed, removed, added or reordered), its signature
  verifies under a published key, it names its predecessor's hash, and its
  archived copy equals it;
- archived days of the range are read back and their events compared with
  their leaves (integrity/archives.py): an altered object is an `archive`
  finding naming it, an altered event `edited`, a missing one `deleted`.

Events are compared in memory by id: a tenant's leaves of the range are held
as a dict (about 150 bytes each); a range bounds it (docs/integrity.md).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from django.db import connection, transaction

from archival import storage
from archival.errors import ArchiveMissing
from logs import audit
from tenants.scoping import activated

from . import encoding, rows, signing
from .archives import archive_check
from .blocks import BLOCK_LEAVES
from .choices import FAILURE_ACTION, Finding
from .merkle import CompactRange, leaf_hash, root_of
from .models import Block, Checkpoint, Leaf, SigningKey, Tree
from .services import archive_key, archived_sizes

logger = logging.getLogger(__name__)

Progress = Callable[[int], None]

# An event not sealed yet: its batch is not visible in the consumer's watermark.
PENDING_SQL = """
    SELECT EXISTS (
        SELECT 1 FROM pipeline_batch b
        LEFT JOIN pipeline_consumerstate s ON s.name = 'integrity'
        WHERE b.tenant_id = %s AND b.kind = 'insert' AND %s = ANY(b.ids)
          AND (s.watermark IS NULL OR NOT pg_visible_in_snapshot(b.xid, s.watermark::pg_snapshot))
    )
"""


@dataclass(frozen=True)
class Problem:
    """One finding: what, which event / leaf / checkpoint, and why."""

    finding: str
    detail: str
    event_id: str | None = None
    leaf_index: int | None = None
    checkpoint: int | None = None

    def __str__(self) -> str:
        where = [f"event {self.event_id}"] if self.event_id else []
        if self.leaf_index is not None:
            where.append(f"leaf {self.leaf_index}")
        if self.checkpoint is not None:
            where.append(f"checkpoint {self.checkpoint}")
        return f"{self.finding}: {', '.join(where)}: {self.detail}"

    def as_json(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def tenant_verify(
    *,
    tenant_id: str,
    since: datetime | None = None,
    until: datetime | None = None,
    progress: Progress | None = None,
) -> list[Problem]:
    """Every finding in the tenant's log (events dated in [since, until)); [] when clean.

    Reads in one snapshot (REPEATABLE READ): on a live system an event committed
    and sealed between two of its reads would otherwise look inserted.
    """
    if connection.in_atomic_block:
        raise RuntimeError("tenant_verify takes its own snapshot: call it outside a transaction")
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        with activated(tenant_id):
            return _findings(tenant_id, since, until, progress)


def _findings(
    tenant_id: str, since: datetime | None, until: datetime | None, progress: Progress | None
) -> list[Problem]:
    tree = Tree.objects.filter(tenant_id=tenant_id).first()
    leaves = list(
        Leaf.objects.filter(tenant_id=tenant_id)
        .order_by("leaf_index")
        .values_list("leaf_index", "event_id", "event_timestamp", "hash")
    )
    problems = _tree_problems(tenant_id, tree, leaves, since, until)
    problems += _event_problems(tenant_id, tree, leaves, since, until, progress)
    return problems


def _in_range(moment: datetime, since: datetime | None, until: datetime | None) -> bool:
    return (since is None or moment >= since) and (until is None or moment < until)


def _tree_problems(
    tenant_id: str,
    tree: Tree | None,
    leaves: list[tuple],
    since: datetime | None,
    until: datetime | None,
) -> list[Problem]:
    """Dense leaves, every checkpoint's root, signature, chain and archived copy."""
    problems = []
    checkpoints = list(Checkpoint.objects.filter(tenant_id=tenant_id).order_by("tree_size"))
    at_size = {c.tree_size: c for c in checkpoints}
    blocks = {b.block_index: bytes(b.hash) for b in Block.objects.filter(tenant_id=tenant_id)}
    edge = CompactRange()
    block: list[bytes] = []
    for index, _event_id, _moment, digest in leaves:
        if index != edge.size:
            problems.append(Problem(Finding.LEAF, f"expected leaf {edge.size}", leaf_index=index))
        edge.append(bytes(digest))
        block.append(bytes(digest))
        if len(block) == BLOCK_LEAVES:
            number = edge.size // BLOCK_LEAVES - 1
            if blocks.pop(number, None) != root_of(block):
                detail = f"block {number}: its stored root differs from its leaves"
                problems.append(Problem(Finding.LEAF, detail, leaf_index=number * BLOCK_LEAVES))
            block = []
        checkpoint = at_size.get(edge.size)
        if checkpoint is not None and edge.root().hex() != checkpoint.root:
            problems.append(
                Problem(
                    Finding.CHECKPOINT,
                    "the root of the leaves differs from the signed root",
                    checkpoint=checkpoint.tree_size,
                )
            )
    problems += [
        Problem(Finding.CHECKPOINT, "signs more leaves than exist", checkpoint=c.tree_size)
        for c in checkpoints
        if c.tree_size > edge.size
    ]
    problems += [
        Problem(Finding.LEAF, f"block {number}: stored, its leaves are not")
        for number in sorted(blocks)
    ]
    if tree is not None and tree.size != edge.size:
        problems.append(
            Problem(Finding.LEAF, f"the tree has {tree.size} leaves, found {edge.size}")
        )
    problems += _checkpoint_problems(checkpoints, since, until)
    problems += [
        Problem(Finding.CHECKPOINT, "archived, missing from the database", checkpoint=size)
        for size in sorted(set(archived_sizes(tenant_id)) - set(at_size))
    ]
    return problems


def _checkpoint_problems(
    checkpoints: list[Checkpoint], since: datetime | None, until: datetime | None
) -> list[Problem]:
    keys = {k.key_id: k.public_key for k in SigningKey.objects.all()}
    problems = []
    previous = ""
    for checkpoint in checkpoints:
        signed = checkpoint.as_signed()
        detail = None
        if checkpoint.previous != previous:
            detail = "does not name the previous checkpoint"
        elif checkpoint.key_id not in keys:
            detail = f"signed by unknown key {checkpoint.key_id}"
        else:
            try:
                signing.verify(
                    signing.public_from_text(keys[checkpoint.key_id]), signed, checkpoint.signature
                )
            except signing.BadSignature:
                detail = "bad signature"
        if detail is None and _in_range(checkpoint.timestamp, since, until):
            detail = _archive_problem(checkpoint)
        if detail:
            problems.append(Problem(Finding.CHECKPOINT, detail, checkpoint=checkpoint.tree_size))
        previous = encoding.checkpoint_hash(signed)
    return problems


def _archive_problem(checkpoint: Checkpoint) -> str | None:
    if checkpoint.archived_at is None:
        return None  # the copy is still to be written (services.checkpoints_archive)
    try:
        body = storage.get_bytes(archive_key(checkpoint.tenant_id, checkpoint.tree_size))
    except ArchiveMissing:
        return "its archived copy is missing"
    if json.loads(body) != checkpoint.as_signed():
        return "its archived copy differs"
    return None


def _event_problems(
    tenant_id: str,
    tree: Tree | None,
    leaves: list[tuple],
    since: datetime | None,
    until: datetime | None,
    progress: Progress | None,
) -> list[Problem]:
    by_event = {event_id: (index, bytes(digest)) for index, event_id, _m, digest in leaves}
    expected = {
        event_id: (index, moment)
        for index, event_id, moment, _d in leaves
        if _in_range(moment, since, until)
    }
    problems = []
    for count, row in enumerate(_events(tenant_id, since, until), 1):
        event_id = row["id"]
        expected.pop(event_id, None)
        sealed = by_event.get(event_id)
        if sealed is None:
            if not _pending(tenant_id, event_id):
                problems.append(Problem(Finding.INSERTED, "never sealed", event_id=str(event_id)))
        elif leaf_hash(encoding.event_record(row)) != sealed[1]:
            problems.append(
                Problem(Finding.EDITED, "differs from its sealed record", str(event_id), sealed[0])
            )
        if progress and count % 10000 == 0:
            progress(count)
    archived = archive_check(tenant_id, by_event, since, until, Problem)
    problems += archived.problems
    deleted_before = tree.deleted_before if tree else None
    for event_id, (index, moment) in sorted(expected.items(), key=lambda item: item[1][0]):
        if deleted_before is None or moment >= deleted_before:
            problems.append(Problem(Finding.DELETED, "sealed, not stored", str(event_id), index))
        elif (day := moment.astimezone(UTC).date()) in archived.days and (
            event_id not in archived.found
        ):
            detail = f"sealed, deleted by retention, not in the archive of {day}"
            problems.append(Problem(Finding.DELETED, detail, str(event_id), index))
    return problems


def _events(tenant_id: str, since: datetime | None, until: datetime | None) -> Iterable[dict]:
    return rows.in_range(tenant_id, since, until)


def _pending(tenant_id: str, event_id: UUID) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(PENDING_SQL, [tenant_id, event_id])
        return bool(cursor.fetchone()[0])


def tenant_verify_and_record(
    *,
    tenant_id: str,
    since: datetime | None = None,
    until: datetime | None = None,
    progress: Progress | None = None,
) -> list[Problem]:
    """`tenant_verify`, and when anything fails, one CRITICAL admin event in the
    tenant's log naming every finding (the tenant's alert rules see it like any
    event: a rule on `severity` CRITICAL or action INTEGRITY_FAILURE fires)."""
    problems = tenant_verify(tenant_id=tenant_id, since=since, until=until, progress=progress)
    if problems:
        logger.error("integrity verification of %s failed: %d finding(s)", tenant_id, len(problems))
        with transaction.atomic():
            audit.record_admin(
                tenant_id=tenant_id,
                actor="system",
                action=FAILURE_ACTION,
                resource_type="integrity",
                severity="CRITICAL",
                origin=audit.TASK,
                details={"findings": [p.as_json() for p in problems[:100]], "count": len(problems)},
                message="; ".join(str(p) for p in problems[:20])[:4000],
            )
    return problems
