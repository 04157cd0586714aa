"""Block roots: proofs from one hash per 256 leaves instead of every leaf.

A complete block of BLOCK_LEAVES leaves (aligned: leaves [b * 256, (b + 1) * 256))
is a perfect subtree of every tree that contains it, so its root never
changes; the sealing consumer stores it when the block fills
(`blocks_record`). `StoredTree(tenant_id, size).subtree` is a SubtreeHash
over the tree of `size` leaves that reads the block roots below `size` once
and the leaves of a block only when a range ends inside it: a proof reads
size / 256 block hashes and at most two blocks of leaves.
"""

from __future__ import annotations

from django.db import connection

from .merkle import EMPTY_ROOT, MerkleLevels, node_hash, root_of, split

BLOCK_LEAVES = 256

LEAF_RANGE_SQL = (
    "SELECT hash FROM integrity_leaf WHERE tenant_id = %s AND leaf_index >= %s "
    "AND leaf_index < %s ORDER BY leaf_index"
)
BLOCKS_SQL = (
    "SELECT hash FROM integrity_block WHERE tenant_id = %s AND block_index < %s "
    "ORDER BY block_index"
)
INSERT_SQL = """
    INSERT INTO integrity_block (tenant_id, block_index, hash)
    SELECT %s, * FROM unnest(%s::bigint[], %s::bytea[])
"""


def leaf_range(tenant_id: str, start: int, end: int) -> list[bytes]:
    """The hashes of leaves [start, end), in order."""
    with connection.cursor() as cursor:
        cursor.execute(LEAF_RANGE_SQL, [tenant_id, start, end])
        return [bytes(h) for (h,) in cursor.fetchall()]


def blocks_record(tenant_id: str, old_size: int, new_leaves: list[bytes]) -> None:
    """Store the roots of the blocks completed by appending `new_leaves` (hashes) to
    the tree of `old_size` leaves (the block's earlier leaves are read back)."""
    first = old_size // BLOCK_LEAVES
    last = (old_size + len(new_leaves)) // BLOCK_LEAVES
    if first == last:
        return
    leaves = leaf_range(tenant_id, first * BLOCK_LEAVES, old_size) + new_leaves
    roots = [
        root_of(leaves[i * BLOCK_LEAVES : (i + 1) * BLOCK_LEAVES]) for i in range(last - first)
    ]
    with connection.cursor() as cursor:
        cursor.execute(INSERT_SQL, [tenant_id, list(range(first, last)), roots])


class StoredTree:
    """A SubtreeHash over the tenant's stored tree of `size` leaves (tenant activated)."""

    def __init__(self, tenant_id: str, size: int) -> None:
        self.tenant_id, self.size = tenant_id, size
        self.full = size // BLOCK_LEAVES
        with connection.cursor() as cursor:
            cursor.execute(BLOCKS_SQL, [tenant_id, self.full])
            roots = [bytes(h) for (h,) in cursor.fetchall()]
        if len(roots) != self.full:  # blocks missing: the leaves' own roots (slow, exact)
            leaves = leaf_range(tenant_id, 0, self.full * BLOCK_LEAVES)
            roots = [
                root_of(leaves[i : i + BLOCK_LEAVES]) for i in range(0, len(leaves), BLOCK_LEAVES)
            ]
        self.blocks = MerkleLevels(roots)
        self._leaves: dict[int, list[bytes]] = {}

    def _block(self, index: int) -> list[bytes]:
        if index not in self._leaves:
            start = index * BLOCK_LEAVES
            end = min(start + BLOCK_LEAVES, self.size)
            self._leaves[index] = leaf_range(self.tenant_id, start, end)
        return self._leaves[index]

    def subtree(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) for 0 <= start <= end <= size."""
        if end <= start:
            return EMPTY_ROOT
        if start % BLOCK_LEAVES == 0 and end % BLOCK_LEAVES == 0:  # whole blocks
            return self.blocks.subtree(start // BLOCK_LEAVES, end // BLOCK_LEAVES)
        index = start // BLOCK_LEAVES
        if (end - 1) // BLOCK_LEAVES == index:  # inside one block
            offset = index * BLOCK_LEAVES
            return root_of(self._block(index)[start - offset : end - offset])
        k = split(end - start)
        return node_hash(self.subtree(start, start + k), self.subtree(start + k, end))
