"""Merkle nodes below level 4 are computed from the leaves when read, no longer stored.

Each entry used to add about one row to ledger_merkle_nodes, seven in eight of them at levels 1
to 3: storing them cost an append about as much as its postings. From now on an append stores
only the nodes it completes at level 4 and up (about one row per eight entries), and a reader
computes a node below from its 2, 4 or 8 leaves, read in the same query (``ledger.tree``). Rows
already stored at levels 1 to 3 stay, untouched and no longer read. A trigger refuses new rows
below level 4 (level 0 included, replacing the trigger of 0009).

Downgrading stores the missing nodes at levels 1 to 3, computed from the leaves, as 0009 expects.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa
from alembic import op

from ledger import merkle
from migrations.append_only import (
    allow_computed_nodes,
    allow_leaf_nodes,
    refuse_computed_nodes,
    refuse_leaf_nodes,
)

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

LOWEST_STORED = 4  # ledger.tree.LOWEST_STORED when this revision was written


def upgrade() -> None:
    allow_leaf_nodes()
    refuse_computed_nodes(LOWEST_STORED)


def downgrade() -> None:
    allow_computed_nodes()
    connection = op.get_bind()
    for (pot_id,) in connection.execute(sa.text("SELECT id FROM pots ORDER BY id")).all():
        missing = list(_missing_low_nodes(connection, pot_id))
        for start in range(0, len(missing), 1000):
            connection.execute(
                sa.text(
                    "INSERT INTO ledger_merkle_nodes (pot_id, level, idx, hash) "
                    "VALUES (:pot, :level, :idx, :hash)"
                ),
                missing[start : start + 1000],
            )
    refuse_leaf_nodes()


def _missing_low_nodes(connection: sa.Connection, pot_id: int) -> Iterator[dict[str, object]]:
    """The pot's nodes at levels 1 to LOWEST_STORED - 1 that no row holds, from its leaves (an
    entry's own leaf hash, or the level-0 row of one recorded before 0009)."""
    held = {
        (level, idx)
        for level, idx in connection.execute(
            sa.text(
                "SELECT level, idx FROM ledger_merkle_nodes "
                "WHERE pot_id = :pot AND level BETWEEN 1 AND :top"
            ),
            {"pot": pot_id, "top": LOWEST_STORED - 1},
        )
    }
    leaves = connection.execute(
        sa.text(
            "SELECT COALESCE(e.leaf_hash, n.hash) FROM ledger_entries e "
            "LEFT JOIN ledger_merkle_nodes n "
            "ON n.pot_id = e.pot_id AND n.level = 0 AND n.idx = e.seq - 1 "
            "WHERE e.pot_id = :pot ORDER BY e.seq"
        ),
        {"pot": pot_id},
    )
    # Per level, the hashes of the current block's children (a perfect subtree per pair).
    pending: list[list[bytes]] = [[] for _ in range(LOWEST_STORED)]
    counts = [0] * LOWEST_STORED
    for (leaf,) in leaves:
        level, value = 0, bytes(leaf)
        while level + 1 < LOWEST_STORED:
            pending[level].append(value)
            if len(pending[level]) < 2:
                break
            left, right = pending[level]
            pending[level] = []
            level, value = level + 1, merkle.node_hash(left, right)
            index = counts[level]
            counts[level] += 1
            if (level, index) not in held:
                yield {"pot": pot_id, "level": level, "idx": index, "hash": value}
