"""Merkle tree nodes per pot (RFC 9162), append-only like the entries they cover.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from migrations.append_only import protect, unprotect

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ledger_merkle_nodes",
        sa.Column("pot_id", BigId, nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("idx", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
        sa.PrimaryKeyConstraint("pot_id", "level", "idx", name="pk_ledger_merkle_nodes"),
        sa.ForeignKeyConstraint(
            ["pot_id"], ["pots.id"], name="fk_ledger_merkle_nodes_pot_id_pots"
        ),
    )
    protect("ledger_merkle_nodes")
    # Entries recorded before this revision get their tree in sequence order.
    _backfill()


def _backfill() -> None:
    from ledger.tree import backfill_all

    backfill_all(op.get_bind())


def downgrade() -> None:
    unprotect("ledger_merkle_nodes")
    op.drop_table("ledger_merkle_nodes")
