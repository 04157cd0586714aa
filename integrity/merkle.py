"""RFC 9162 Merkle trees: hashing, compact ranges, inclusion and consistency proofs.

No Django here (the standalone verifier imports this module). Hashes are
SHA-256 as RFC 9162 section 2.1 defines them:

    MTH({})     = SHA-256()
    leaf hash   = SHA-256(0x00 || data)
    node hash   = SHA-256(0x01 || left || right)
    MTH(D[n])   = node(MTH(D[0:k]), MTH(D[k:n])), k the largest power of two < n

Proofs are generated from a `SubtreeHash` callable, `subtree(start, end)` ->
MTH(D[start:end]), so the caller decides where hashes come from (a list of
leaf hashes here; stored leaves in the service).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

SubtreeHash = Callable[[int, int], bytes]

EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofError(ValueError):
    """A proof that does not verify, or that cannot exist for the sizes given."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


class CompactRange:
    """The right edge of a tree: the roots of its perfect subtrees, largest first.

    Appending a leaf costs O(log n) hashes, so the tree's root is known at any
    size without reading its leaves again. `hashes` has one entry per set bit
    of `size` (RFC 9162's tree shape), which makes it a complete, storable
    state: `CompactRange(size, hashes)` resumes where it stopped.
    """

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if len(hashes) != bin(size).count("1"):
            raise ValueError(f"a compact range of size {size} has {bin(size).count('1')} hashes")
        self.size = size
        self.hashes = list(hashes)

    def append(self, leaf: bytes) -> None:
        """Add one leaf hash at index `size`."""
        node = leaf
        size = self.size
        while size & 1:  # merge with each perfect subtree of the same height
            node = node_hash(self.hashes.pop(), node)
            size >>= 1
        self.hashes.append(node)
        self.size += 1

    def root(self) -> bytes:
        if not self.hashes:
            return EMPTY_ROOT
        node = self.hashes[-1]
        for left in reversed(self.hashes[:-1]):
            node = node_hash(left, node)
        return node


def root_of(leaves: Sequence[bytes]) -> bytes:
    """MTH of a list of leaf hashes."""
    edge = CompactRange()
    for leaf in leaves:
        edge.append(leaf)
    return edge.root()


def subtree_over(leaves: Sequence[bytes]) -> SubtreeHash:
    """A `SubtreeHash` over leaf hashes held in memory."""

    def subtree(start: int, end: int) -> bytes:
        return root_of(leaves[start:end])

    return subtree


class MerkleLevels:
    """Every perfect subtree's hash of a tree held in memory (about twice its leaves),
    so each proof of an export costs O(log n) instead of a pass over the leaves."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self.size = len(leaves)
        self.levels = [list(leaves)]
        while len(self.levels[-1]) > 1:
            below = self.levels[-1]
            self.levels.append(
                [node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)]
            )

    def subtree(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) (a `SubtreeHash`)."""
        n = end - start
        if n <= 0:
            return EMPTY_ROOT
        if n & (n - 1) == 0 and start % n == 0:  # perfect and aligned: stored
            height = n.bit_length() - 1
            return self.levels[height][start >> height]
        k = split(n)
        return node_hash(self.subtree(start, start + k), self.subtree(start + k, end))


def inclusion_proof(index: int, size: int, subtree: SubtreeHash) -> list[bytes]:
    """RFC 9162 2.1.3.1 PATH(index, D[size])."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of size {size}")
    return _path(index, 0, size, subtree)


def _path(m: int, start: int, n: int, subtree: SubtreeHash) -> list[bytes]:
    if n == 1:
        return []
    k = split(n)
    if m < k:
        return _path(m, start, k, subtree) + [subtree(start + k, start + n)]
    return _path(m - k, start + k, n - k, subtree) + [subtree(start, start + k)]


def consistency_proof(first: int, second: int, subtree: SubtreeHash) -> list[bytes]:
    """RFC 9162 2.1.4.1 PROOF(first, D[second]); empty when first is 0 or equal."""
    if not 0 <= first <= second:
        raise ProofError(f"no consistency proof from size {first} to {second}")
    if first in (0, second):
        return []
    return _subproof(first, 0, second, True, subtree)


def _subproof(m: int, start: int, n: int, whole: bool, subtree: SubtreeHash) -> list[bytes]:
    if m == n:
        return [] if whole else [subtree(start, start + n)]
    k = split(n)
    if m <= k:
        return _subproof(m, start, k, whole, subtree) + [subtree(start + k, start + n)]
    return _subproof(m - k, start + k, n - k, False, subtree) + [subtree(start, start + k)]


def verify_inclusion(
    leaf: bytes, index: int, size: int, path: Sequence[bytes], root: bytes
) -> None:
    """RFC 9162 2.1.3.2; raises ProofError unless `leaf` is at `index` under `root`."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            raise ProofError("inclusion proof too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0 or r != root:
        raise ProofError(f"leaf {index} is not included in the tree of size {size}")


def verify_consistency(
    first: int, second: int, path: Sequence[bytes], first_root: bytes, second_root: bytes
) -> None:
    """RFC 9162 2.1.4.2; raises ProofError unless tree `first` is a prefix of `second`."""
    if not 0 <= first <= second:
        raise ProofError(f"no consistency from size {first} to {second}")
    if first == 0 or first == second:
        if path or (first == second and first_root != second_root):
            raise ProofError(f"trees of size {first} and {second} are not consistent")
        return
    nodes = list(path)
    if first & (first - 1) == 0:  # a power of two: the first root is a node of the path
        nodes.insert(0, first_root)
    if not nodes:
        raise ProofError("empty consistency proof")
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = nodes[0]
    for c in nodes[1:]:
        if sn == 0:
            raise ProofError("consistency proof too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0 or fr != first_root or sr != second_root:
        raise ProofError(f"trees of size {first} and {second} are not consistent")
