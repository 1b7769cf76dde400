"""Each pot's RFC 9162 Merkle tree over its entries.

The leaf for entry ``seq`` is its canonical bytes (docs/ledger-format.md) at index ``seq - 1``.
Level 0 (the leaf hashes) is kept on the entries themselves (``ledger_entries.leaf_hash``; entries
recorded before migration 0009 have theirs as level-0 rows of ``ledger_merkle_nodes``), the perfect
subtrees above it in ``ledger_merkle_nodes``. An append stores the O(log n) subtrees it completes;
roots and proofs read O(log n) stored nodes (``ledger.merkle`` does the tree arithmetic).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    Connection,
    Executable,
    Select,
    Table,
    and_,
    bindparam,
    func,
    literal_column,
    select,
    union_all,
)
from sqlalchemy.orm import Session, aliased

from ledger import merkle
from ledger.bulk import insert_rows
from ledger.models import Base, Entry, MerkleNode

_NODES: Table = Base.metadata.tables["ledger_merkle_nodes"]
_POTS: Table = Base.metadata.tables["pots"]
_ENTRIES: Table = Base.metadata.tables["ledger_entries"]
_POSTINGS: Table = Base.metadata.tables["ledger_postings"]
_NODE_COLUMNS = ("pot_id", "level", "idx", "hash")


def node_getter(session: Session, pot_id: int) -> merkle.NodeGetter:
    """Read one node at a time (leaf hashes included), raising LookupError when it is missing."""

    def get_node(level: int, index: int) -> bytes:
        return _stored(read_nodes(session, pot_id, [(level, index)]), pot_id, level, index)

    return get_node


def _stored(known: dict[tuple[int, int], bytes], pot_id: int, level: int, index: int) -> bytes:
    value = known.get((level, index))
    if value is None:
        raise LookupError(f"Merkle node ({level}, {index}) of pot {pot_id} is missing")
    return value


def add_leaf(session: Session, pot_id: int, seq: int, leaf: bytes) -> None:
    """Store the nodes that entry ``seq``, whose leaf hash is ``leaf``, completes (in the
    append's transaction, the entry itself carrying ``leaf``)."""
    add_leaves(session, pot_id, seq, [leaf])


def add_leaves(session: Session, pot_id: int, first_seq: int, leaves: Sequence[bytes]) -> None:
    """Store the nodes that entries ``first_seq``, ``first_seq + 1``, ... (with leaf hashes
    ``leaves``) complete above level 0, in one statement.

    Appending needs, besides the new leaves, only the perfect subtrees that make up the tree
    before them (one per set bit of its size), read in one query.
    """
    size = first_seq - 1
    known = read_nodes(session, pot_id, merkle.frontier_nodes(size))
    frontier = merkle.Frontier.of_size(size, lambda level, i: _stored(known, pot_id, level, i))
    completed = frontier.extend(leaves)
    # The leaves themselves live on their entries.
    rows = [(pot_id, level, index, value) for level, index, value in completed]
    insert_rows(session.connection(), _NODES, _NODE_COLUMNS, rows)


def read_nodes(
    session: Session, pot_id: int, wanted: Iterable[tuple[int, int]]
) -> dict[tuple[int, int], bytes]:
    """The stored nodes (level, index) -> hash among ``wanted``, leaf hashes included (absent
    ones are left out), in one query of primary-key lookups per :data:`_LOOKUPS` nodes."""
    keys = sorted(set(wanted))  # leaves (level 0) first
    found: dict[tuple[int, int], bytes] = {}
    # Through the connection: plain rows, without the ORM's execution (or its autoflush: every
    # node and leaf read was stored by an append that has flushed).
    connection = session.connection()
    for start in range(0, len(keys), _LOOKUPS):
        chunk = keys[start : start + _LOOKUPS]
        leaves = [index for level, index in chunk if level == 0]
        nodes = chunk[len(leaves) :]
        params: dict[str, int] = {"pot": pot_id}
        for k, index in enumerate(leaves):
            params[f"entry_{k}"] = index + 1
        for k, (level, index) in enumerate(nodes):
            params[f"level_{k}"] = level
            params[f"idx_{k}"] = index
        rows = connection.execute(_lookups(len(leaves), len(nodes)), params)
        found.update(
            ((level, idx), bytes(value)) for level, idx, value in rows if value is not None
        )
    return found


_LOOKUPS = 200  # nodes per query: below SQLite's limit of 500 terms in a compound SELECT


@functools.lru_cache(maxsize=256)
def _lookups(leaves: int, nodes: int) -> Executable:
    """Point lookups of ``leaves`` leaf hashes and ``nodes`` higher nodes, as one UNION ALL.

    Each is a search of a unique index, on both databases, whatever their statistics (an OR or a
    row-value IN over a pot's nodes can make SQLite scan the pot's whole tree). A leaf is its
    entry's ``leaf_hash`` or, only for an entry recorded before migration 0009 (which has none),
    the level-0 node stored for it: a level-0 row never overrides an entry's own leaf. Built once
    per shape: making the statement costs several times more than running it.
    """
    legacy = aliased(MerkleNode)
    leaf: Select[Any, Any, Any] = select(
        literal_column("0").label("level"),
        (Entry.seq - literal_column("1")).label("idx"),
        func.coalesce(Entry.leaf_hash, legacy.hash),
    ).outerjoin(
        legacy,
        and_(
            Entry.leaf_hash.is_(None),
            legacy.pot_id == Entry.pot_id,
            legacy.level == literal_column("0"),
            legacy.idx == Entry.seq - literal_column("1"),
        ),
    )
    lookups: list[Select[Any, Any, Any]] = [
        leaf.where(Entry.pot_id == bindparam("pot"), Entry.seq == bindparam(f"entry_{k}"))
        for k in range(leaves)
    ]
    lookups += [_node_lookup(bindparam(f"level_{k}"), bindparam(f"idx_{k}")) for k in range(nodes)]
    return lookups[0] if len(lookups) == 1 else union_all(*lookups)


def _node_lookup(level: Any, index: Any) -> Select[int, int, bytes]:
    return select(MerkleNode.level, MerkleNode.idx, MerkleNode.hash).where(
        MerkleNode.pot_id == bindparam("pot"), MerkleNode.level == level, MerkleNode.idx == index
    )


def root(session: Session, pot_id: int, tree_size: int) -> bytes:
    return merkle.root(tree_size, node_getter(session, pot_id))


def backfill_all(connection: Connection) -> None:
    """Build the trees of entries recorded before trees existed (migration 0002), as that
    revision stored them: every level, leaves included, in ledger_merkle_nodes.

    Reads plain columns (not the models, which describe the latest schema).
    """
    from ledger.chain import stored_bytes

    pots = connection.execute(select(_POTS.c.id, _POTS.c.slug).order_by(_POTS.c.id)).all()
    for pot_id, slug in pots:
        memory = merkle.MemoryTree()
        entries = connection.execute(
            select(
                _ENTRIES.c.id,
                _ENTRIES.c.seq,
                _ENTRIES.c.recorded_at,
                _ENTRIES.c.kind,
                _ENTRIES.c.memo,
                _ENTRIES.c.actor,
                _ENTRIES.c.external_ref,
                _ENTRIES.c.reverses_seq,
                _ENTRIES.c.data_json,
                _ENTRIES.c.prev_hash,
            )
            .where(_ENTRIES.c.pot_id == pot_id)
            .order_by(_ENTRIES.c.seq)
        ).all()
        for entry_id, seq, *fields, prev_hash in entries:
            posted = connection.execute(
                select(_POSTINGS.c.account, _POSTINGS.c.amount, _POSTINGS.c.currency)
                .where(_POSTINGS.c.entry_id == entry_id)
                .order_by(_POSTINGS.c.position)
            ).all()
            postings = [(account, amount, currency) for account, amount, currency in posted]
            recorded_at, kind, memo, actor, external_ref, reverses_seq, data_json = fields
            canonical = stored_bytes(
                slug, seq, recorded_at, kind, memo, actor, external_ref, reverses_seq, data_json,
                postings, prev_hash,
            )  # fmt: skip
            memory.append(canonical)
        rows = [
            (pot_id, level, index, memory.get_node(level, index))
            for level in range(memory.size.bit_length())
            for index in range(memory.size >> level)
        ]
        insert_rows(connection, _NODES, _NODE_COLUMNS, rows)
