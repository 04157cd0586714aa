"""RFC 9162 Merkle hashing and proofs (integrity/merkle.py), without a database.

The vectors are the certificate-transparency test vectors of RFC 6962 (the
tree hashing RFC 9162 keeps): eight leaves and the root of each prefix.
"""

from __future__ import annotations

import pytest

from integrity.merkle import (
    EMPTY_ROOT,
    CompactRange,
    MerkleLevels,
    ProofError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_of,
    subtree_over,
    verify_consistency,
    verify_inclusion,
)

LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
ROOTS = {
    1: "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    2: "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    3: "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    4: "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    5: "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    6: "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    7: "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    8: "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}
HASHES = [leaf_hash(data) for data in LEAVES]


def test_empty_tree_root_is_the_hash_of_nothing():
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert root_of([]) == EMPTY_ROOT


@pytest.mark.parametrize("size", sorted(ROOTS))
def test_roots_match_the_rfc_vectors(size):
    assert root_of(HASHES[:size]).hex() == ROOTS[size]


def test_compact_range_resumes_from_its_stored_state():
    edge = CompactRange()
    for leaf in HASHES[:5]:
        edge.append(leaf)
    resumed = CompactRange(edge.size, edge.hashes)
    for leaf in HASHES[5:]:
        resumed.append(leaf)
    assert resumed.root().hex() == ROOTS[8]
    with pytest.raises(ValueError):
        CompactRange(3, edge.hashes[:1])  # size 3 has two perfect subtrees


def test_inclusion_proofs_match_the_rfc_vectors():
    subtree = subtree_over(HASHES)
    # Known paths of the RFC 6962 vectors: leaf 0 in 8, leaf 5 in 8, leaf 2 in 3.
    assert [p.hex() for p in inclusion_proof(0, 8, subtree)] == [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ]
    assert [p.hex() for p in inclusion_proof(2, 3, subtree)] == [
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"
    ]


def test_every_inclusion_proof_verifies_and_no_other_leaf_or_index_does():
    leaves = [leaf_hash(bytes([i])) for i in range(40)]
    subtree = subtree_over(leaves)
    for size in range(1, 41):
        root = root_of(leaves[:size])
        for index in range(size):
            path = inclusion_proof(index, size, subtree)
            verify_inclusion(leaves[index], index, size, path, root)
            with pytest.raises(ProofError):
                verify_inclusion(leaf_hash(b"forged"), index, size, path, root)
            if size > 1:
                with pytest.raises(ProofError):
                    verify_inclusion(leaves[index], (index + 1) % size, size, path, root)


def test_every_consistency_proof_verifies_and_a_changed_history_does_not():
    leaves = [leaf_hash(bytes([i])) for i in range(33)]
    subtree = subtree_over(leaves)
    for second in range(1, 34):
        second_root = root_of(leaves[:second])
        for first in range(0, second + 1):
            path = consistency_proof(first, second, subtree)
            first_root = root_of(leaves[:first])
            verify_consistency(first, second, path, first_root, second_root)
            if 0 < first < second:
                rewritten = [leaf_hash(b"x"), *leaves[1:first]]
                with pytest.raises(ProofError):
                    verify_consistency(first, second, path, root_of(rewritten), second_root)


def test_consistency_vectors():
    subtree = subtree_over(HASHES)
    # RFC 6962 vectors: 1 -> 8, 6 -> 8, 2 -> 5.
    assert [p.hex() for p in consistency_proof(1, 8, subtree)] == [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ]
    assert [p.hex() for p in consistency_proof(6, 8, subtree)] == [
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ]
    assert [p.hex() for p in consistency_proof(2, 5, subtree)] == [
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ]


def test_stored_levels_give_the_same_subtrees_and_proofs():
    leaves = [leaf_hash(bytes([i])) for i in range(37)]
    levels = MerkleLevels(leaves)
    plain = subtree_over(leaves)
    for start in range(37):
        for end in range(start + 1, 38):
            assert levels.subtree(start, end) == plain(start, end)
    assert levels.subtree(0, 37) == root_of(leaves)
    assert inclusion_proof(20, 37, levels.subtree) == inclusion_proof(20, 37, plain)
