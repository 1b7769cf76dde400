"""Merkle proofs and tree heads of a pot's ledger, read from its stored tree.

The tree arithmetic lives in ``ledger.merkle``; this module checks a request against the pot
(no proof about entries that do not exist yet) and feeds ``ledger.merkle`` the stored tree
(``ledger.tree.read_nodes``: the leaves on their entries, the nodes above in
``ledger_merkle_nodes``).

Reads: which nodes a proof or a root needs depends only on the sizes, never on hash values. So
each request first plans the O(log n) node coordinates with a dry run, then fetches all of them
in one query, then computes. The cost is one round trip however large the ledger grows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import merkle, tree
from ledger.errors import InvalidInput
from ledger.models import Entry, Pot

T = TypeVar("T")

# Any 32 bytes: the dry run only records which nodes are read.
_PLACEHOLDER = bytes(merkle.HASH_SIZE)


class InvalidProofRequest(InvalidInput):
    """The sizes or sequence numbers asked for do not describe a proof this ledger can give."""

    title = "Invalid proof request"


class DamagedTree(LookupError):
    """A node the tree must have is missing: the stored tree does not match the entries."""


@dataclass(frozen=True)
class InclusionProof:
    seq: int
    leaf_index: int
    tree_size: int
    entry_hash: str  # hex SHA-256 of the canonical bytes (the hash chain's value)
    leaf_hash: bytes  # SHA-256(0x00 || canonical bytes): the Merkle leaf
    proof: list[bytes]
    root: bytes


@dataclass(frozen=True)
class ConsistencyProof:
    old_size: int
    new_size: int
    proof: list[bytes]
    old_root: bytes
    new_root: bytes


def _with_stored_nodes(
    session: Session, pot_id: int, compute: Callable[[merkle.NodeGetter], T]
) -> T:
    """Run ``compute(get_node)`` with every node it reads fetched in a single query."""
    wanted: set[tuple[int, int]] = set()

    def plan(level: int, index: int) -> bytes:
        wanted.add((level, index))
        return _PLACEHOLDER

    compute(plan)
    nodes = tree.read_nodes(session, pot_id, wanted)

    def get_node(level: int, index: int) -> bytes:
        try:
            return nodes[(level, index)]
        except KeyError:
            raise DamagedTree(
                f"Merkle node ({level}, {index}) of pot {pot_id} is missing"
            ) from None

    return compute(get_node)


def _require_count(value: int, what: str, *, minimum: int) -> None:
    # The API validates its parameters already; this guards other callers (CLI, tests).
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidProofRequest(f"{what} must be an integer")
    if value < minimum:
        raise InvalidProofRequest(f"{what} must be at least {minimum}, got {value}")


def _require_recorded(pot: Pot, size: int, what: str) -> None:
    if size > pot.head_seq:
        raise InvalidProofRequest(
            f"{what} {size} is larger than the ledger of pot {pot.slug!r}, "
            f"which has {pot.head_seq} entries"
        )


def tree_root(session: Session, pot: Pot, tree_size: int) -> bytes:
    """The root of the tree of the pot's first ``tree_size`` entries (EMPTY_ROOT for 0)."""
    _require_count(tree_size, "tree size", minimum=0)
    _require_recorded(pot, tree_size, "tree size")
    return _with_stored_nodes(session, pot.id, lambda get: merkle.root(tree_size, get))


def inclusion(session: Session, pot: Pot, seq: int, tree_size: int | None = None) -> InclusionProof:
    """Prove that entry ``seq`` is in the tree of the first ``tree_size`` entries (default: all).

    RFC 9162 section 2.1.3.1; the leaf of entry ``seq`` has index ``seq - 1``.
    """
    size = pot.head_seq if tree_size is None else tree_size
    _require_count(seq, "seq", minimum=1)
    _require_count(size, "tree size", minimum=1)
    if seq > size:
        raise InvalidProofRequest(
            f"entry #{seq} is not in a tree of {size} entries: seq must be at most tree_size"
        )
    _require_recorded(pot, size, "tree size")
    index = seq - 1

    def compute(get: merkle.NodeGetter) -> tuple[bytes, list[bytes], bytes]:
        return get(0, index), merkle.inclusion_proof(index, size, get), merkle.root(size, get)

    leaf, proof, root = _with_stored_nodes(session, pot.id, compute)
    entry_hash = session.scalar(select(Entry.hash).where(Entry.pot_id == pot.id, Entry.seq == seq))
    if entry_hash is None:
        raise DamagedTree(f"pot {pot.slug!r} has a head of #{pot.head_seq} but no entry #{seq}")
    return InclusionProof(seq, index, size, entry_hash, leaf, proof, root)


def consistency(
    session: Session, pot: Pot, old_size: int, new_size: int | None = None
) -> ConsistencyProof:
    """Prove that the tree of ``new_size`` entries (default: all) extends that of ``old_size``.

    RFC 9162 section 2.1.4.1. Equal sizes give an empty proof. ``old_size`` 0 with a larger
    ``new_size`` is refused: every tree extends the empty one, so there is nothing to prove, and
    a verifier that accepted such a proof would vouch for a root it never checked.
    """
    size = pot.head_seq if new_size is None else new_size
    _require_count(old_size, "from", minimum=0)
    _require_count(size, "to", minimum=0)
    if old_size > size:
        raise InvalidProofRequest(
            f"from ({old_size}) is larger than to ({size}): an append-only ledger never shrinks, "
            "so there is no proof from a larger tree to a smaller one"
        )
    if old_size == 0 and size > 0:
        raise InvalidProofRequest(
            "from=0 is not meaningful (RFC 9162 section 2.1.4): every ledger extends the empty "
            "one, so there is nothing to prove; check the new tree head on its own instead"
        )
    _require_recorded(pot, size, "to")

    def compute(get: merkle.NodeGetter) -> tuple[list[bytes], bytes, bytes]:
        proof = merkle.consistency_proof(old_size, size, get)
        return proof, merkle.root(old_size, get), merkle.root(size, get)

    proof, old_root, new_root = _with_stored_nodes(session, pot.id, compute)
    return ConsistencyProof(old_size, size, proof, old_root, new_root)
