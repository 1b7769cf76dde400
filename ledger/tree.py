"""Each pot's RFC 9162 Merkle tree over its entries, kept in ``ledger_merkle_nodes``.

The leaf for entry ``seq`` is its canonical bytes (docs/ledger-format.md) at index ``seq - 1``.
An append stores the O(log n) perfect subtrees it completes; roots and proofs read O(log n)
stored nodes (``ledger.merkle`` does the tree arithmetic).
"""

from __future__ import annotations

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from ledger import merkle
from ledger.chain import canonical_bytes, stored_document
from ledger.models import Entry, MerkleNode, Pot


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
        seq - 1, merkle.leaf_hash(canonical), node_getter(session, pot_id)
    )
    session.add_all(
        MerkleNode(pot_id=pot_id, level=level, idx=index, hash=value)
        for level, index, value in nodes
    )


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
