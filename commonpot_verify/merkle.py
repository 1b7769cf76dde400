"""RFC 9162 Merkle tree verification, and the root of a tree built from its leaves.

The section between the STANDALONE VERIFIER markers is a verbatim copy of the one in the
service's ``ledger/merkle.py`` (tests/test_verifier.py checks that the two stay identical). It is
copied, not imported: this verifier must not depend on the service it checks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Final

# --- BEGIN STANDALONE VERIFIER ---------------------------------------------------------
# Copy from here to "END STANDALONE VERIFIER" to get a self-contained verifier. It needs:
#     import hashlib
#     from collections.abc import Sequence
#     from typing import Final

# ======================================================================================
# Section 1: hashing primitives (RFC 9162 section 2.1.1)
# ======================================================================================

#: Size in bytes of every hash in the tree (SHA-256).
HASH_SIZE: Final[int] = 32

#: MTH({}) = SHA-256(""): the root of the empty tree.
EMPTY_ROOT: Final[bytes] = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """Return MTH({d}) = SHA-256(0x00 || data), the hash of one leaf entry."""
    # The 0x00 / 0x01 prefixes separate leaf and interior-node hashing. Without them a
    # 64-byte leaf could pass for an interior node (second-preimage attack).
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return SHA-256(0x01 || left || right), the hash of an interior node."""
    return hashlib.sha256(b"\x01" + left + right).digest()


# ======================================================================================
# Section 2: proof verification (RFC 9162 sections 2.1.3.2 and 2.1.4.2)
#
# These functions take no storage, only sizes and hashes. Every failure raises
# ProofError with a message that says what was wrong. They never return False, so a
# caller cannot forget to check a boolean.
# ======================================================================================


class ProofError(ValueError):
    """A Merkle inclusion or consistency proof is malformed or does not verify."""


def _check_size(value: int, what: str) -> None:
    # Sizes and indices come from untrusted input (JSON, HTTP). Reject non-integers and
    # negative numbers here. Python would accept a negative index in the bit loops
    # below and give nonsense. bool is an int subclass, but a True index is a bug.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProofError(f"{what} must be an integer, got {type(value).__name__}")
    if value < 0:
        raise ProofError(f"{what} must be non-negative, got {value}")


def _check_hash(value: bytes, what: str) -> None:
    # Everything we feed into the hash function must be a well-formed SHA-256 hash.
    # Otherwise an empty or truncated element could be chained in. Roots are only
    # compared, never hashed, so a malformed root just fails the comparison.
    if not isinstance(value, bytes | bytearray):
        raise ProofError(f"{what} must be bytes, got {type(value).__name__}")
    if len(value) != HASH_SIZE:
        raise ProofError(f"{what} must be {HASH_SIZE} bytes, got {len(value)}")


def _check_proof(proof: Sequence[bytes], expected_length: int, what: str) -> None:
    # The RFC algorithms notice a wrong proof length only indirectly ("sn is 0" in the
    # loop, "sn is not 0" at the end). Checking the exact length first gives a clear
    # error. The RFC checks remain in the loops as a second line of defence.
    if isinstance(proof, bytes | bytearray | str):
        # Iterating over bytes would give ints, so a bare hash must not pass as a proof.
        raise ProofError(f"{what} must be a sequence of hashes, not {type(proof).__name__}")
    if len(proof) != expected_length:
        raise ProofError(
            f"{what} has the wrong length: expected {expected_length} elements, got {len(proof)}"
        )
    for position, element in enumerate(proof):
        _check_hash(element, f"{what} element {position}")


def _inclusion_proof_length(index: int, tree_size: int) -> int:
    """Return the number of hashes in PATH(index, D[tree_size]). Requires index < tree_size."""
    # Below the level where the paths to `index` and to the last leaf `tree_size - 1`
    # diverge, the tree is perfect and every level contributes one sibling ("inner").
    # Above it the path runs along the right border, where a level has a sibling only
    # when a complete subtree lies to its left, i.e. where `index` has a 1 bit.
    inner = (index ^ (tree_size - 1)).bit_length()
    border = (index >> inner).bit_count()
    return inner + border


def root_from_inclusion_proof(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes]
) -> bytes:
    """Recompute the root implied by an inclusion proof (RFC 9162 section 2.1.3.2).

    ``leaf_hash`` is the hash of the leaf (``leaf_hash(data)``), not the raw data.
    Raises ProofError if the index, size or proof shape is invalid. The caller must
    compare the result with a trusted root (``verify_inclusion`` does so).
    """
    _check_size(index, "leaf index")
    _check_size(tree_size, "tree size")
    # Step 1: the leaf must exist in a tree of this size. This also rejects size 0.
    if index >= tree_size:
        raise ProofError(f"leaf index {index} is out of range for tree size {tree_size}")
    _check_hash(leaf_hash, "leaf hash")
    _check_proof(proof, _inclusion_proof_length(index, tree_size), "inclusion proof")

    # Steps 2-5, as written in the RFC. fn follows the node's position within its level.
    # sn follows the position of the last node of the tree at the same level.
    fn, sn = index, tree_size - 1
    r = bytes(leaf_hash)
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof has more elements than the tree has levels")
        if fn & 1 or fn == sn:
            # The sibling is on the left. When fn == sn and fn is even, the node is the
            # last one on its level and has no right sibling. It moves up unchanged
            # until it becomes a right child (or the root of the left spine).
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof has fewer elements than the tree has levels")
    return r


def verify_inclusion(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree of ``tree_size`` with ``root``.

    Implements RFC 9162 section 2.1.3.2. Returns None on success and raises ProofError
    on any failure. The tree size is not bound into the root: for some
    (index, size) pairs the same proof also verifies against a different size. So
    ``tree_size`` must come from the same signed tree head as ``root``.
    """
    computed = root_from_inclusion_proof(leaf_hash, index, tree_size, proof)
    if computed != root:
        raise ProofError(
            f"inclusion proof for leaf {index} in a tree of size {tree_size} does not "
            f"lead to the expected root (computed {computed.hex()})"
        )


def _consistency_proof_length(old_size: int, new_size: int) -> int:
    """Return the number of hashes in PROOF(old_size, D[new_size]), for 0 < old < new."""
    # The proof is the inclusion path of the last old leaf (old_size - 1) in the new
    # tree, minus the levels inside the largest perfect subtree that ends at old_size.
    # The verifier already knows that subtree's hash (its "seed"). The seed itself is
    # sent unless it is the whole old tree (old_size a power of two), because then it
    # equals old_root and the verifier has it already.
    shift = (old_size & -old_size).bit_length() - 1  # trailing zero bits of old_size
    length = _inclusion_proof_length(old_size - 1, new_size) - shift
    if old_size != 1 << shift:
        length += 1
    return length


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree (new_size, new_root) is an append-only extension of (old_size, old_root).

    Implements RFC 9162 section 2.1.4.2. Returns None on success and raises ProofError
    on any failure. The RFC only defines 0 < old_size < new_size. The edge cases
    follow transparency-dev/merkle and its test vectors:

    * old_size > new_size: error (a log never shrinks).
    * old_size == new_size: the proof must be empty and the roots identical. The
      verifier has no data to check the roots against, except that a tree of size 0
      has exactly one possible root, EMPTY_ROOT.
    * old_size == 0 < new_size: error. Every tree extends the empty tree, so there is
      nothing to prove, and "success" would wrongly vouch for new_root. A client
      without a previous tree head must trust the new head on its own merits.
    """
    _check_size(old_size, "old tree size")
    _check_size(new_size, "new tree size")
    if old_size > new_size:
        raise ProofError(
            f"old tree size {old_size} is larger than new tree size {new_size}; "
            "an append-only log cannot shrink"
        )
    if old_size == new_size:
        if len(proof) != 0:
            raise ProofError(
                f"tree sizes are equal ({old_size}), so the consistency proof must be "
                f"empty, got {len(proof)} elements"
            )
        if old_root != new_root:
            raise ProofError(f"tree sizes are equal ({old_size}) but the roots differ")
        if old_size == 0 and old_root != EMPTY_ROOT:
            raise ProofError("a tree of size 0 must have the empty root SHA-256('')")
        return
    if old_size == 0:
        raise ProofError(
            "a consistency proof from an empty tree (old size 0) is meaningless: "
            "every tree extends it, so nothing about the new root can be proven"
        )

    # Step 1: an empty path can never prove anything for 0 < old < new.
    if len(proof) == 0:
        raise ProofError("consistency proof is empty but the tree sizes differ")
    _check_proof(proof, _consistency_proof_length(old_size, new_size), "consistency proof")

    # Step 2: if the old tree is a perfect tree, its root is the seed and is not sent.
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    # Steps 3-4: fn/sn locate the last leaf of the old/new tree. Strip the levels
    # inside the perfect subtree that the seed covers.
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # Steps 5-6: rebuild both roots at once. fr uses only hashes to the left of the
    # old tree's right edge. sr also uses the hashes that the new tree added.
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof has more elements than the tree has levels")
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
    # Step 7.
    if sn != 0:
        raise ProofError("consistency proof has fewer elements than the tree has levels")
    if fr != old_root:
        raise ProofError(
            f"consistency proof does not reproduce the old root for size {old_size} "
            f"(computed {bytes(fr).hex()})"
        )
    if sr != new_root:
        raise ProofError(
            f"consistency proof does not reproduce the new root for size {new_size} "
            f"(computed {bytes(sr).hex()})"
        )


# --- END STANDALONE VERIFIER -----------------------------------------------------------


class RootBuilder:
    """The root of a growing tree from its leaf hashes, in O(log n) memory (a "compact range").

    Keeps the roots of the perfect subtrees that make up the leaves so far, largest first, so a
    ledger's root can be recomputed while reading its entries once.
    """

    def __init__(self) -> None:
        self._stack: list[tuple[int, bytes]] = []  # (level, hash); levels strictly decreasing
        self.size = 0

    def append(self, hashed_leaf: bytes) -> None:
        level, value = 0, hashed_leaf
        # Two perfect subtrees of the same height merge into one of the next height.
        while self._stack and self._stack[-1][0] == level:
            _, left = self._stack.pop()
            level, value = level + 1, node_hash(left, value)
        self._stack.append((level, value))
        self.size += 1

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        # RFC 9162 splits at the largest power of two, so fold the subtrees from the right.
        value = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            value = node_hash(left, value)
        return value
