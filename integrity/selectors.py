"""Reads of the tamper-evident log: proofs, checkpoints, public keys.

Every function reads under the caller's active tenant (row-level security);
the callers are tenant-scoped views and commands that activated the tenant.
Proofs are computed from the stored block roots below the checkpoint's size
and the leaves of at most two blocks (integrity/blocks.py).
"""

from __future__ import annotations

from uuid import UUID

from django.db.models import QuerySet, Subquery

from auditlog_project.errors import Conflict, Invalid
from logs.fields import EVENT_FIELDS
from logs.models import Event, EventKey

from . import encoding
from .blocks import StoredTree
from .merkle import consistency_proof, inclusion_proof
from .models import Checkpoint, Leaf, SigningKey


def stored_event(*, scope: QuerySet[Event], event_id: UUID) -> dict | None:
    """The event as stored (sealed fields left sealed), or None when not in scope."""
    key_time = EventKey.objects.filter(id=event_id).values("timestamp")[:1]
    return scope.filter(id=event_id, timestamp=Subquery(key_time)).values(*EVENT_FIELDS).first()


def leaf_hashes(tenant_id: str, size: int) -> list[bytes]:
    hashes = (
        Leaf.objects.filter(tenant_id=tenant_id, leaf_index__lt=size)
        .order_by("leaf_index")
        .values_list("hash", flat=True)
    )
    return [bytes(h) for h in hashes]


def latest_checkpoint(*, tenant_id: str) -> Checkpoint | None:
    return Checkpoint.objects.filter(tenant_id=tenant_id).order_by("-tree_size").first()


def event_proof(*, tenant_id: str, row: dict) -> dict:
    """The inclusion proof of a stored event against the tenant's latest checkpoint.

    Conflict when the event is not sealed yet or no checkpoint covers it yet
    (a checkpoint follows within INTEGRITY_CHECKPOINT_SECONDS).
    """
    leaf = Leaf.objects.filter(tenant_id=tenant_id, event_id=row["id"]).first()
    checkpoint = latest_checkpoint(tenant_id=tenant_id)
    if leaf is None or checkpoint is None or checkpoint.tree_size <= leaf.leaf_index:
        raise Conflict("The event is not covered by a checkpoint yet; try again in a minute.")
    tree = StoredTree(tenant_id, checkpoint.tree_size)
    path = inclusion_proof(leaf.leaf_index, checkpoint.tree_size, tree.subtree)
    return {
        "leaf_index": leaf.leaf_index,
        "tree_size": checkpoint.tree_size,
        "record": encoding.event_record(row).decode(),
        "path": [node.hex() for node in path],
        "checkpoint": checkpoint.as_signed(),
    }


def checkpoint_list(*, tenant_id: str) -> QuerySet[Checkpoint]:
    return Checkpoint.objects.filter(tenant_id=tenant_id).order_by("-tree_size")


def consistency(*, tenant_id: str, first: int, second: int) -> dict:
    """The consistency proof between two of the tenant's checkpoints (by tree size)."""
    if not 0 < first <= second:
        raise Invalid({"first": ["first and second are tree sizes, 0 < first <= second."]})
    found = {
        c.tree_size: c
        for c in Checkpoint.objects.filter(tenant_id=tenant_id, tree_size__in=[first, second])
    }
    missing = [name for name, size in (("first", first), ("second", second)) if size not in found]
    if missing:
        raise Invalid({name: ["No checkpoint of this tree size."] for name in missing})
    subtree = StoredTree(tenant_id, second).subtree
    return {
        "first": found[first].as_signed(),
        "second": found[second].as_signed(),
        "path": [node.hex() for node in consistency_proof(first, second, subtree)],
    }


def keys_list() -> QuerySet[SigningKey]:
    """Every public key that signed or signs checkpoints, newest first."""
    return SigningKey.objects.order_by("-created_at")
