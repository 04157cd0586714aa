"""The tamper-evident log: per-tenant Merkle trees of sealed events, signed checkpoints.

`Leaf`, `Tree` and `Checkpoint` are tenant-owned and under row-level security
(ENABLE + FORCE) like the events table. They are written only by the
pipeline's `integrity` consumer and the checkpoint service
(integrity/services.py), never by a request. `SigningKey` holds public keys
only: the private key is the installation's secret (INTEGRITY_SIGNING_KEY).
See docs/integrity.md and ADR 0021.
"""

from __future__ import annotations

from django.db import models

from tenants.models import Tenant


class Leaf(models.Model):
    """One sealed event: leaf `leaf_index` of its tenant's tree.

    Guarantees: indexes are dense from 0 in sealing order (the pipeline's
    commit order, then the order of the batch); an event is sealed once
    (unique per tenant and event id); `hash` is RFC 9162's leaf hash of the
    event's canonical record (integrity/encoding.py). A leaf outlives its
    event when retention deletes it, so older checkpoints stay verifiable.
    """

    pk = models.CompositePrimaryKey("tenant", "leaf_index")
    tenant = models.ForeignKey(Tenant, on_delete=models.DO_NOTHING, related_name="+")
    leaf_index = models.BigIntegerField()
    event_id = models.UUIDField()
    event_timestamp = models.DateTimeField()
    hash = models.BinaryField(max_length=32)

    class Meta:
        db_table = "integrity_leaf"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "event_id"], name="integrity_leaf_event_once")
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id}:{self.leaf_index}"


class Tree(models.Model):
    """A tenant's tree as sealed so far: its size and right edge (merkle.CompactRange),
    so the root is known without reading the leaves. `deleted_before`: retention
    deleted the tenant's events dated before it (their leaves stay)."""

    tenant = models.OneToOneField(
        Tenant, on_delete=models.DO_NOTHING, primary_key=True, related_name="+"
    )
    size = models.BigIntegerField(default=0)
    edge = models.JSONField(default=list)  # hex hashes, largest subtree first
    deleted_before = models.DateTimeField(null=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "integrity_tree"

    def __str__(self) -> str:
        return f"{self.tenant_id}:{self.size}"


class Checkpoint(models.Model):
    """A signed statement of a tenant's tree: size, root, time, the previous checkpoint.

    `previous` is the SHA-256 of the previous checkpoint's signed body
    (encoding.checkpoint_hash), so checkpoints form a chain; `signature` is
    Ed25519 by `key_id` over encoding.checkpoint_body. A copy is written to the
    archive bucket (`archived_at` once it is there).
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.DO_NOTHING, related_name="+")
    tree_size = models.BigIntegerField()
    root = models.CharField(max_length=64)
    timestamp = models.DateTimeField()
    previous = models.CharField(max_length=64, blank=True)
    key_id = models.CharField(max_length=32)
    signature = models.CharField(max_length=128)
    archived_at = models.DateTimeField(null=True)

    class Meta:
        db_table = "integrity_checkpoint"
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "tree_size"], name="integrity_checkpoint_size_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id}:{self.tree_size}"

    def as_signed(self) -> dict:
        """The checkpoint as it is signed and published (encoding.CHECKPOINT_FIELDS)."""
        from .encoding import utc_text

        return {
            "tenant_id": self.tenant_id,
            "tree_size": self.tree_size,
            "root": self.root,
            "timestamp": utc_text(self.timestamp),
            "previous": self.previous,
            "key_id": self.key_id,
            "signature": self.signature,
        }


class SigningKey(models.Model):
    """A public key that signed (or signs) checkpoints; published without authentication.

    The current key is the one of INTEGRITY_SIGNING_KEY, registered when it
    first signs; a rotated key gets `retired_at` and stays published, so the
    checkpoints it signed stay verifiable.
    """

    key_id = models.CharField(max_length=32, primary_key=True)
    public_key = models.CharField(max_length=64)  # base64 of 32 raw bytes
    algorithm = models.CharField(max_length=16, default="Ed25519")
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True)

    class Meta:
        db_table = "integrity_signing_key"

    def __str__(self) -> str:
        return self.key_id


class Block(models.Model):
    """The root of a complete block of BLOCK_LEAVES (256) leaves: `block_index` covers
    leaves [block_index * 256, (block_index + 1) * 256).

    Written by the sealing consumer when a block fills, so a proof reads one
    hash per block and the leaves of at most two blocks instead of every leaf
    (integrity/blocks.py). Verification recomputes each from its leaves.
    """

    pk = models.CompositePrimaryKey("tenant", "block_index")
    tenant = models.ForeignKey(Tenant, on_delete=models.DO_NOTHING, related_name="+")
    block_index = models.BigIntegerField()
    hash = models.BinaryField(max_length=32)

    class Meta:
        db_table = "integrity_block"

    def __str__(self) -> str:
        return f"{self.tenant_id}:{self.block_index}"
