"""Each pot's RFC 9162 Merkle tree over its entries.

The leaf for entry ``seq`` is its canonical bytes (docs/ledger-format.md) at index ``seq - 1``.
Level 0 (the leaf hashes) is kept on the entries themselves (``ledger_entries.leaf_hash``; entries
recorded before migration 0009 have theirs as level-0 rows of ``ledger_merkle_nodes``). Above it,
``ledger_merkle_nodes`` holds the perfect subtrees from level :data:`LOWEST_STORED` up; one below
is computed when read, from its at most ``2**(LOWEST_STORED - 1)`` leaves, read in the same query
as the stored nodes (the tiles of Trillian and of the Go checksum database rest on the same
trade: storing the lowest levels would cost a row per entry, recomputing them a few hashes per
read). An append stores the subtrees it completes from that level up, about one row per eight
entries; roots and proofs read O(log n) stored nodes and at most 15 leaves per path.
(``ledger.merkle`` does the tree arithmetic.)
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any, cast

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

# Nodes below this level are computed from their leaves when read, never stored (from
# migration 0010; rows an earlier revision stored there are left alone, and not read).
LOWEST_STORED = 4


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
    ``leaves``) complete from level :data:`LOWEST_STORED` up, in one statement.

    Appending needs, besides the new leaves, only the perfect subtrees that make up the tree
    before them (:func:`_frontier`).
    """
    frontier = _frontier(session, pot_id, first_seq - 1)
    rows = [
        (pot_id, level, index, value)
        for level, index, value in frontier.extend(leaves)
        if level >= LOWEST_STORED
    ]
    insert_rows(session.connection(), _NODES, _NODE_COLUMNS, rows)


def read_nodes(
    session: Session, pot_id: int, wanted: Iterable[tuple[int, int]]
) -> dict[tuple[int, int], bytes]:
    """The nodes (level, index) -> hash among ``wanted`` that the pot's tree has (absent ones are
    left out): leaf hashes and nodes below :data:`LOWEST_STORED` computed from the leaves under
    them, the others stored. One query of range and primary-key lookups per :data:`_LOOKUPS`."""
    keys = set(wanted)
    stored = sorted(key for key in keys if key[0] >= LOWEST_STORED)
    computed = [key for key in keys if key[0] < LOWEST_STORED]
    indexes = sorted({i for level, index in computed for i in _leaves_under(level, index)})
    leaves: dict[int, bytes] = {}
    found: dict[tuple[int, int], bytes] = {}
    # Through the connection: plain rows, without the ORM's execution (or its autoflush: every
    # node and leaf read was stored by an append that has flushed).
    connection = session.connection()
    lookups: list[tuple[int, int] | range] = [*_runs(indexes), *stored]
    for start in range(0, len(lookups), _LOOKUPS):
        chunk = lookups[start : start + _LOOKUPS]
        runs = [lookup for lookup in chunk if isinstance(lookup, range)]
        nodes = [lookup for lookup in chunk if not isinstance(lookup, range)]
        params: dict[str, int] = {"pot": pot_id}
        for k, run in enumerate(runs):
            params[f"first_{k}"] = run.start + 1  # entry seq = leaf index + 1
            params[f"last_{k}"] = run.stop
        for k, (level, index) in enumerate(nodes):
            params[f"level_{k}"] = level
            params[f"idx_{k}"] = index
        for level, index, value in connection.execute(_lookups(len(runs), len(nodes)), params):
            if value is None:
                continue
            if level == 0:
                leaves[index] = bytes(value)
            else:
                found[(level, index)] = bytes(value)
    for level, index in computed:
        under = [leaves.get(i) for i in _leaves_under(level, index)]
        if None not in under:
            found[(level, index)] = merkle.root_from_leaves(cast("list[bytes]", under))
    return found


def _leaves_under(level: int, index: int) -> range:
    """The leaf indexes under node (level, index)."""
    return range(index << level, (index + 1) << level)


def _runs(indexes: Sequence[int]) -> list[range]:
    """Sorted, distinct ``indexes`` as runs of consecutive ones."""
    runs: list[range] = []
    for index in indexes:
        if runs and runs[-1].stop == index:
            runs[-1] = range(runs[-1].start, index + 1)
        else:
            runs.append(range(index, index + 1))
    return runs


_LOOKUPS = 200  # lookups per query: below SQLite's limit of 500 terms in a compound SELECT


@functools.lru_cache(maxsize=256)
def _lookups(runs: int, nodes: int) -> Executable:
    """``runs`` range lookups of leaf hashes and ``nodes`` point lookups of stored nodes, as one
    UNION ALL.

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
        leaf.where(
            Entry.pot_id == bindparam("pot"),
            Entry.seq.between(bindparam(f"first_{k}"), bindparam(f"last_{k}")),
        )
        for k in range(runs)
    ]
    lookups += [_node_lookup(bindparam(f"level_{k}"), bindparam(f"idx_{k}")) for k in range(nodes)]
    return lookups[0] if len(lookups) == 1 else union_all(*lookups)


def _node_lookup(level: Any, index: Any) -> Select[int, int, bytes]:
    return select(MerkleNode.level, MerkleNode.idx, MerkleNode.hash).where(
        MerkleNode.pot_id == bindparam("pot"), MerkleNode.level == level, MerkleNode.idx == index
    )


def root(session: Session, pot_id: int, tree_size: int) -> bytes:
    """The root of the tree of the pot's first ``tree_size`` entries."""
    return _frontier(session, pot_id, tree_size).root()


def _frontier(session: Session, pot_id: int, size: int) -> merkle.Frontier:
    """The pot's tree of ``size`` leaves as its perfect subtrees (one per set bit of the size),
    read in one query; a missing one raises LookupError."""
    known = read_nodes(session, pot_id, merkle.frontier_nodes(size))
    return merkle.Frontier.of_size(size, lambda level, i: _stored(known, pot_id, level, i))


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
