"""RFC 9162 section 2.1 Merkle trees for the Commonpot ledger.

The module has three sections:

1. Hashing primitives: ``leaf_hash``, ``node_hash``, ``EMPTY_ROOT``.
2. Proof verification (RFC 9162 sections 2.1.3.2 and 2.1.4.2). It works on bytes only
   and needs nothing but section 1, ``hashlib``, ``collections.abc.Sequence`` and
   ``typing.Final``. Sections 1 and 2 sit between the ``BEGIN STANDALONE VERIFIER`` and
   ``END STANDALONE VERIFIER`` markers so they can be copied verbatim into an
   independent verifier. Keep them free of any dependency on section 3.
3. Tree construction and proof generation over stored perfect subtrees.

Storage model (section 3)
-------------------------
The ledger never recomputes a tree from its leaves. It stores the hash of every
*complete perfect subtree*, addressed as ``(level, index)``: node ``(L, i)`` covers the
leaves ``[i * 2**L, (i + 1) * 2**L)``. Level 0 holds the leaf hashes. Once its last leaf
has been appended a node never changes, so it can be written once and cached forever.
In a tree of size ``n`` the node ``(L, i)`` exists iff ``(i + 1) * 2**L <= n``.

Every subtree that the RFC 9162 MTH definition uses (split at the largest power of two
smaller than ``n``) is either one stored node or a short chain of them. So a root or proof
needs O(log n) reads through a ``get_node(level, index)`` callback, whatever the storage
behind it (SQL rows, a dict, a cache).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final, TypeAlias

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

# ======================================================================================
# Section 3: tree construction and proof generation
#
# Errors here are caller or storage bugs, not bad proofs, so they raise ValueError /
# TypeError / whatever get_node raises (e.g. KeyError for a missing node).
# ======================================================================================

#: Reads the stored hash of the perfect subtree (level, index). See the module docstring.
NodeGetter: TypeAlias = Callable[[int, int], bytes]


def _require_size(value: int, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an integer, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{what} must be non-negative, got {value}")


def _largest_power_of_two_below(n: int) -> int:
    """Return the largest power of two strictly smaller than ``n`` (requires n >= 2)."""
    # This is the RFC's split point k: k < n <= 2k.
    return 1 << ((n - 1).bit_length() - 1)


def _fetch(get_node: NodeGetter, level: int, index: int) -> bytes:
    # Check what storage returns. A truncated or str value from a DB driver would
    # otherwise produce wrong proofs without any error.
    value = get_node(level, index)
    if isinstance(value, bytearray | memoryview):
        value = bytes(value)
    if not isinstance(value, bytes):
        raise TypeError(
            f"get_node({level}, {index}) returned {type(value).__name__}, expected bytes"
        )
    if len(value) != HASH_SIZE:
        raise ValueError(
            f"get_node({level}, {index}) returned {len(value)} bytes, expected {HASH_SIZE}"
        )
    return value


def root_from_leaves(leaf_hashes: Sequence[bytes]) -> bytes:
    """Return MTH(D[n]) for the given leaf hashes (``leaf_hash(d)`` for each entry d).

    This is the RFC 9162 section 2.1.1 definition, written literally. It is O(n) and
    serves as the reference that the stored-node functions are tested against.
    """

    def mth(start: int, end: int) -> bytes:
        n = end - start
        if n == 1:
            return leaf_hashes[start]
        k = _largest_power_of_two_below(n)
        return node_hash(mth(start, start + k), mth(start + k, end))

    if len(leaf_hashes) == 0:
        return EMPTY_ROOT
    return mth(0, len(leaf_hashes))


def nodes_completed_by_append(
    leaf_index: int, leaf_hash: bytes, get_node: NodeGetter
) -> list[tuple[int, int, bytes]]:
    """Return the perfect-subtree nodes completed by appending leaf number ``leaf_index``.

    Returns ``(level, index, hash)`` tuples in increasing level order. The leaf itself
    comes first as ``(0, leaf_index, leaf_hash)``. The ledger stores exactly these rows
    for the append. ``get_node`` is read once per completed node above level 0 (the
    left sibling, which is already stored), i.e. ``trailing_ones(leaf_index)`` <= log2(n)
    times.
    """
    _require_size(leaf_index, "leaf index")
    if len(leaf_hash) != HASH_SIZE:
        raise ValueError(f"leaf hash must be {HASH_SIZE} bytes, got {len(leaf_hash)}")
    level, index, current = 0, leaf_index, bytes(leaf_hash)
    completed = [(level, index, current)]
    # A node with an odd index is a right child. Its left sibling (index - 1) finished
    # earlier, so appending this leaf completes the parent. Continue up while the new
    # node is again a right child.
    while index & 1:
        current = node_hash(_fetch(get_node, level, index - 1), current)
        level += 1
        index >>= 1
        completed.append((level, index, current))
    return completed


def _mth(start: int, end: int, get_node: NodeGetter) -> bytes:
    # MTH(D[start:end]) for a non-empty range, following the RFC split. If the range is
    # a stored perfect subtree, read it. Otherwise split at the largest power of two.
    # For ranges that occur in the tree (start a multiple of the power of two >= length)
    # the left part is always one stored node, so the cost is popcount(length) reads.
    n = end - start
    if n & (n - 1) == 0 and start % n == 0:
        level = n.bit_length() - 1
        return _fetch(get_node, level, start >> level)
    k = _largest_power_of_two_below(n)
    return node_hash(_mth(start, start + k, get_node), _mth(start + k, end, get_node))


def subtree_root(start: int, end: int, get_node: NodeGetter) -> bytes:
    """Return MTH(D[start:end]) using stored perfect-subtree hashes.

    An empty range gives EMPTY_ROOT. Ranges that are subtrees of the log's tree
    (``start`` a multiple of the smallest power of two >= ``end - start``, which covers
    every prefix ``[0, n)`` and every range a proof needs) cost at most log2(n) + 1
    reads. An arbitrary unaligned range is computed correctly but may need up to
    ``end - start`` reads, because its MTH splits do not match stored nodes.
    """
    _require_size(start, "start")
    _require_size(end, "end")
    if start > end:
        raise ValueError(f"start {start} is after end {end}")
    if start == end:
        return EMPTY_ROOT
    return _mth(start, end, get_node)


def root(tree_size: int, get_node: NodeGetter) -> bytes:
    """Return the root hash of the tree with the first ``tree_size`` leaves."""
    return subtree_root(0, tree_size, get_node)


def inclusion_proof(index: int, tree_size: int, get_node: NodeGetter) -> list[bytes]:
    """Return PATH(index, D[tree_size]) (RFC 9162 section 2.1.3.1), lowest level first.

    Reads O(log n) nodes: a perfect sibling per level, plus a single non-perfect
    sibling on the tree's right border, which takes at most log2(n) reads.
    """
    _require_size(index, "leaf index")
    _require_size(tree_size, "tree size")
    if index >= tree_size:
        raise ValueError(f"leaf index {index} is out of range for tree size {tree_size}")
    # Walk from the root down to the leaf along the RFC recursion and collect the
    # sibling subtree at each split. PATH lists them bottom-up, so reverse at the end.
    top_down: list[bytes] = []
    start, end = 0, tree_size
    while end - start > 1:
        mid = start + _largest_power_of_two_below(end - start)
        if index < mid:
            top_down.append(_mth(mid, end, get_node))
            end = mid
        else:
            top_down.append(_mth(start, mid, get_node))
            start = mid
    top_down.reverse()
    return top_down


def consistency_proof(old_size: int, new_size: int, get_node: NodeGetter) -> list[bytes]:
    """Return PROOF(old_size, D[new_size]) (RFC 9162 section 2.1.4.1), lowest level first.

    Returns an empty list when ``old_size == new_size``. Raises ValueError for
    ``old_size > new_size``, and for ``old_size == 0 < new_size``: there is nothing to
    prove and ``verify_consistency`` rejects it. Reads O(log n) nodes.
    """
    _require_size(old_size, "old tree size")
    _require_size(new_size, "new tree size")
    if old_size > new_size:
        raise ValueError(f"old tree size {old_size} is larger than new tree size {new_size}")
    if old_size == new_size:
        return []
    if old_size == 0:
        raise ValueError("a consistency proof from an empty tree (old size 0) is meaningless")
    # Iterative SUBPROOF(m, D[start:end], complete). m is the old size relative to start.
    # `complete` is the RFC's flag b: True while the current subtree is a prefix
    # that the old tree's root already covers, so its hash need not be sent.
    top_down: list[bytes] = []
    start, end, m, complete = 0, new_size, old_size, True
    while end - start != m:
        mid = start + _largest_power_of_two_below(end - start)
        if m <= mid - start:
            # The old tree ends in the left half. The right half is new data.
            top_down.append(_mth(mid, end, get_node))
            end = mid
        else:
            # The left half is entirely old (and perfect). Continue on the right.
            top_down.append(_mth(start, mid, get_node))
            m -= mid - start
            start = mid
            complete = False
    if not complete:
        top_down.append(_mth(start, end, get_node))
    top_down.reverse()
    return top_down


@dataclass
class MemoryTree:
    """An in-memory append-only tree that stores perfect-subtree hashes like the ledger.

    Meant for tests and benchmarks. ``get_node`` is the callback that the functions
    above expect.
    """

    # _levels[L][i] is the hash of node (L, i). Each level is append-only.
    _levels: list[list[bytes]] = field(default_factory=list, init=False, repr=False)

    @property
    def size(self) -> int:
        """Return the number of leaves appended so far."""
        return len(self._levels[0]) if self._levels else 0

    def append(self, data: bytes) -> int:
        """Append one entry and return its leaf index."""
        return self.append_leaf_hash(leaf_hash(data))

    def append_leaf_hash(self, hashed_leaf: bytes) -> int:
        """Append an already-hashed leaf and return its leaf index."""
        index = self.size
        for level, node_index, value in nodes_completed_by_append(
            index, hashed_leaf, self.get_node
        ):
            if level == len(self._levels):
                self._levels.append([])
            # Nodes at a level complete in index order, so an append keeps each level
            # a dense list.
            assert len(self._levels[level]) == node_index
            self._levels[level].append(value)
        return index

    def get_node(self, level: int, index: int) -> bytes:
        """Return the stored hash of node (level, index), or raise KeyError."""
        # Check explicitly: Python's negative indexing would return some other node.
        if level < 0 or index < 0 or level >= len(self._levels):
            raise KeyError((level, index))
        nodes = self._levels[level]
        if index >= len(nodes):
            raise KeyError((level, index))
        return nodes[index]

    def root(self, tree_size: int | None = None) -> bytes:
        """Return the root of the tree at ``tree_size`` (default: the current size)."""
        return root(self.size if tree_size is None else tree_size, self.get_node)

    def inclusion_proof(self, index: int, tree_size: int | None = None) -> list[bytes]:
        """Return the inclusion proof for ``index`` at ``tree_size`` (default: current)."""
        size = self.size if tree_size is None else tree_size
        return inclusion_proof(index, size, self.get_node)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """Return the consistency proof from ``old_size`` to ``new_size`` (default: current)."""
        size = self.size if new_size is None else new_size
        return consistency_proof(old_size, size, self.get_node)


class Frontier:
    """The root of a growing tree from its leaves, in O(log n) memory (a "compact range").

    Keeps the roots of the perfect subtrees that make up the leaves so far, largest first; used
    to recompute a ledger's root while streaming its entries once, and to append a batch of
    leaves to a stored tree knowing only its frontier (:meth:`of_size`).
    """

    def __init__(self) -> None:
        self._stack: list[tuple[int, bytes]] = []  # (level, hash), levels strictly decreasing
        self.size = 0

    @classmethod
    def of_size(cls, size: int, get_node: NodeGetter) -> Frontier:
        """The frontier of a stored tree of ``size`` leaves: one node per set bit of ``size``
        (see :func:`frontier_nodes`), read through ``get_node``."""
        _require_size(size, "tree size")
        frontier = cls()
        frontier._stack = [
            (level, _fetch(get_node, level, index)) for level, index in frontier_nodes(size)
        ]
        frontier.size = size
        return frontier

    def append(self, hashed_leaf: bytes) -> None:
        level, value = 0, hashed_leaf
        while self._stack and self._stack[-1][0] == level:
            _, left = self._stack.pop()
            level, value = level + 1, node_hash(left, value)
        self._stack.append((level, value))
        self.size += 1

    def extend(self, hashed_leaves: Iterable[bytes]) -> list[tuple[int, int, bytes]]:
        """Append leaves; return the nodes above them that they complete, ``(level, index,
        hash)`` with level >= 1, in order: what :func:`nodes_completed_by_append` gives for each
        leaf in turn, without the leaves themselves, written out for speed (it runs for every
        entry of a batch)."""
        leaves = list(hashed_leaves)
        for leaf in leaves:  # all checked first: a refusal leaves the frontier as it was
            if len(leaf) != HASH_SIZE:
                raise ValueError(f"leaf hash must be {HASH_SIZE} bytes, got {len(leaf)}")
        stack, position, completed = self._stack, self.size, []
        sha256 = hashlib.sha256
        for leaf in leaves:
            level, value = 0, leaf
            while stack and stack[-1][0] == level:
                value = sha256(b"\x01" + stack.pop()[1] + value).digest()  # node_hash
                level += 1
                completed.append((level, position >> level, value))
            stack.append((level, value))
            position += 1
        self.size = position
        return completed

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        # MTH splits at the largest power of two: fold the perfect subtrees from the right.
        value = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            value = node_hash(left, value)
        return value


def frontier_nodes(size: int) -> list[tuple[int, int]]:
    """The stored nodes ``(level, index)`` whose perfect subtrees make up a tree of ``size``
    leaves, largest first: one per set bit of ``size``, and all that appending needs."""
    return [
        (level, (size >> level) - 1)
        for level in reversed(range(size.bit_length()))
        if size >> level & 1
    ]
