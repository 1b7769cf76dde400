"""Signed checkpoints of each pot's Merkle tree, append-only: what was signed stays on record.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# The model lives in ledger/checkpoints.py, not ledger/models.py. Importing it here puts its
# table on Base.metadata wherever migrations run, so schema comparisons (tests/test_migrations.py)
# see it. (Moving the model into ledger/models.py would make this import unnecessary.)
import ledger.checkpoints  # noqa: F401
from migrations.append_only import protect, unprotect

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ledger_checkpoints",
        sa.Column("id", BigId, nullable=False),
        sa.Column("pot_id", BigId, nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("root_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("issued_at", sa.String(27), nullable=False),
        sa.Column("origin", sa.String(300), nullable=False),
        sa.Column("key_id", sa.String(8), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_checkpoints"),
        sa.ForeignKeyConstraint(["pot_id"], ["pots.id"], name="fk_ledger_checkpoints_pot_id_pots"),
        sa.UniqueConstraint(
            "pot_id", "tree_size", "key_id", name="uq_ledger_checkpoints_pot_id_tree_size_key_id"
        ),
    )
    protect("ledger_checkpoints")


def downgrade() -> None:
    unprotect("ledger_checkpoints")
    op.drop_table("ledger_checkpoints")
