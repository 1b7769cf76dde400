"""Each pot's RFC 9162 Merkle tree over its entries, kept in ``ledger_merkle_nodes``.

The leaf for entry ``seq`` is its canonical bytes (docs/ledger-format.md) at index ``seq - 1``.
An append stores the O(log n) perfect subtrees it completes; roots and proofs read O(log n)
stored nodes (``ledger.merkle`` does the tree arithmetic).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, Executable, Table, bindparam, select, union_all
from sqlalchemy.orm import Session

from ledger import merkle
from ledger.bulk import insert_rows
from ledger.chain import canonical_bytes, stored_document
from ledger.models import Base, Entry, MerkleNode, Pot

_NODES: Table = Base.metadata.tables["ledger_merkle_nodes"]


def node_getter(session: Session, pot_id: int) -> merkle.NodeGetter:
    def get_node(level: int, index: int) -> bytes:
        value = session.scalar(
            select(MerkleNode.hash).where(
                MerkleNode.pot_id == pot_id, MerkleNode.level == level, MerkleNode.idx == index
            )
        )
        if value is None:
            raise LookupError(f"Merkle node ({level}, {index}) of pot {pot_id} is missing")
        return bytes(value)

    return get_node


def add_leaf(session: Session, pot_id: int, seq: int, canonical: bytes) -> None:
    """Store the nodes that entry ``seq`` completes (call in the append's transaction)."""
    nodes = merkle.nodes_completed_by_append(
        seq - 1, merkle.leaf_hash(canonical), _session_node_getter(session, pot_id)
    )
    session.add_all(
        MerkleNode(pot_id=pot_id, level=level, idx=index, hash=value)
        for level, index, value in nodes
    )


def _session_node_getter(session: Session, pot_id: int) -> merkle.NodeGetter:
    """Like :func:`node_getter`, but a node an earlier append of this transaction stored comes
    from the session's identity map, without a query. No autoflush: the nodes an append reads
    were stored by earlier appends, and every append flushes before it returns."""

    def get_node(level: int, index: int) -> bytes:
        with session.no_autoflush:
            node = session.get(MerkleNode, (pot_id, level, index))
        if node is None:
            raise LookupError(f"Merkle node ({level}, {index}) of pot {pot_id} is missing")
        return bytes(node.hash)

    return get_node


def add_leaves(session: Session, pot_id: int, first_seq: int, canonicals: Sequence[bytes]) -> None:
    """Store the nodes that entries ``first_seq``, ``first_seq + 1``, ... complete, in one
    statement: the same nodes, byte for byte, as :func:`add_leaf` for each in turn.

    Appending needs, besides the batch's own nodes, only the stored perfect subtrees that make
    up the tree before the batch (one per set bit of its size), read in one query.
    """
    size = first_seq - 1
    known = _frontier(session, pot_id, size)

    def get_node(level: int, index: int) -> bytes:
        value = known.get((level, index))
        if value is None:
            raise LookupError(f"Merkle node ({level}, {index}) of pot {pot_id} is missing")
        return value

    frontier = merkle.Frontier.of_size(size, get_node)
    rows = []
    for canonical in canonicals:
        rows += [
            (pot_id, level, index, value)
            for level, index, value in frontier.append_completing(merkle.leaf_hash(canonical))
        ]
    insert_rows(session.connection(), _NODES, ("pot_id", "level", "idx", "hash"), rows)


def _frontier(session: Session, pot_id: int, size: int) -> dict[tuple[int, int], bytes]:
    """The stored nodes (level, index) -> hash whose perfect subtrees make up a tree of
    ``size`` leaves: the left siblings that appending after it can need."""
    with session.no_autoflush:
        return read_nodes(session, pot_id, merkle.frontier_nodes(size))


def read_nodes(
    session: Session, pot_id: int, wanted: Iterable[tuple[int, int]]
) -> dict[tuple[int, int], bytes]:
    """The stored nodes (level, index) -> hash among ``wanted`` (absent nodes are left out), in
    one query of primary-key lookups per :data:`_LOOKUPS` nodes."""
    keys = sorted(set(wanted))
    found: dict[tuple[int, int], bytes] = {}
    for start in range(0, len(keys), _LOOKUPS):
        chunk = keys[start : start + _LOOKUPS]
        params: dict[str, int] = {"pot": pot_id}
        for k, (level, index) in enumerate(chunk):
            params[f"level_{k}"] = level
            params[f"idx_{k}"] = index
        rows = session.execute(_lookups(len(chunk)), params)
        found.update(((level, idx), bytes(value)) for level, idx, value in rows)
    return found


_LOOKUPS = 200  # below SQLite's limit of 500 terms in a compound SELECT


@functools.lru_cache(maxsize=_LOOKUPS)
def _lookups(count: int) -> Executable:
    """``count`` point lookups of nodes by primary key, as one UNION ALL.

    One search of the primary key each, on both databases, whatever their statistics (an OR or
    a row-value IN over the pot's nodes can make SQLite scan the pot's whole tree). Built once per
    count: making the statement costs several times more than running it.
    """
    lookups = [
        select(MerkleNode.level, MerkleNode.idx, MerkleNode.hash).where(
            MerkleNode.pot_id == bindparam("pot"),
            MerkleNode.level == bindparam(f"level_{k}"),
            MerkleNode.idx == bindparam(f"idx_{k}"),
        )
        for k in range(count)
    ]
    return lookups[0] if count == 1 else union_all(*lookups)


def root(session: Session, pot_id: int, tree_size: int) -> bytes:
    return merkle.root(tree_size, node_getter(session, pot_id))


def backfill_all(connection: Connection) -> None:
    """Build the trees of entries recorded before trees existed (used by a migration)."""
    with Session(bind=connection) as session:
        for pot in session.scalars(select(Pot).order_by(Pot.id)):
            entries = session.scalars(
                select(Entry).where(Entry.pot_id == pot.id).order_by(Entry.seq)
            )
            for entry in entries:
                document = stored_document(pot.slug, entry, entry.postings)
                add_leaf(session, pot.id, entry.seq, canonical_bytes(document))
                session.flush()
