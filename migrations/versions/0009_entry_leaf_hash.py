"""Each entry keeps its own Merkle leaf hash: one row fewer per append in ledger_merkle_nodes.

Entries recorded from now on carry ``leaf_hash`` and get no level-0 row in ledger_merkle_nodes;
those recorded before keep their level-0 rows there (``ledger.tree`` reads an entry's leaf from
its own column, and from that row only when the entry has none), so nothing already written is
touched. A trigger refuses new level-0 rows: none is written any more, so one could only be a
forgery.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from migrations.append_only import allow_leaf_nodes, protect, refuse_leaf_nodes, unprotect

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A nullable column: an ALTER TABLE on both databases (no rebuild; the triggers stay).
    op.add_column("ledger_entries", sa.Column("leaf_hash", sa.LargeBinary(32), nullable=True))
    refuse_leaf_nodes()


def downgrade() -> None:
    # The leaves go back to where 0008 kept them, then the column goes (a rebuild on SQLite,
    # which takes the triggers with it: they are made again).
    allow_leaf_nodes()
    op.execute(
        "INSERT INTO ledger_merkle_nodes (pot_id, level, idx, hash) "
        "SELECT pot_id, 0, seq - 1, leaf_hash FROM ledger_entries WHERE leaf_hash IS NOT NULL"
    )
    unprotect("ledger_entries")
    with op.batch_alter_table("ledger_entries") as batch:
        batch.drop_column("leaf_hash")
    protect("ledger_entries")
