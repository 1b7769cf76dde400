"""Open Collective: each pot's link and sync state, reconciliation resolutions (append-only),
and the expenses whose payouts come out of a commitment.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# The models live in integrations/opencollective/store.py; importing it puts their tables on
# Base.metadata wherever migrations run, so schema comparisons see them.
import integrations.opencollective.store  # noqa: F401
from migrations.append_only import protect, unprotect

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "oc_links",
        sa.Column("id", BigId, nullable=False),
        sa.Column("pot_id", BigId, nullable=False),
        sa.Column("collective_slug", sa.String(255), nullable=False),
        sa.Column("webhook_token_hash", sa.String(64), nullable=False),
        sa.Column("linked_at", sa.String(27), nullable=False),
        sa.Column("linked_by", sa.String(200), nullable=False),
        sa.Column("next_offset", sa.BigInteger(), nullable=False),
        sa.Column("last_synced_at", sa.String(27), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_at", sa.String(27), nullable=True),
        sa.Column("oc_balance", sa.BigInteger(), nullable=True),
        sa.Column("oc_balance_at", sa.String(27), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_oc_links"),
        sa.ForeignKeyConstraint(
            ["pot_id"], ["pots.id"], name="fk_oc_links_pot_id_pots", ondelete="RESTRICT"
        ),
        sa.UniqueConstraint("pot_id", name="uq_oc_links_pot_id"),
        sa.UniqueConstraint("webhook_token_hash", name="uq_oc_links_webhook_token_hash"),
        sa.CheckConstraint("next_offset >= 0", name="ck_oc_links_next_offset_non_negative"),
    )
    op.create_table(
        "oc_resolutions",
        sa.Column("id", BigId, nullable=False),
        sa.Column("pot_id", BigId, nullable=False),
        sa.Column("item", sa.String(210), nullable=False),
        sa.Column("oc_transaction_id", sa.String(100), nullable=True),
        sa.Column("problem", sa.String(32), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("entry_seq", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("created_at", sa.String(27), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_oc_resolutions"),
        sa.ForeignKeyConstraint(
            ["pot_id"], ["pots.id"], name="fk_oc_resolutions_pot_id_pots", ondelete="RESTRICT"
        ),
        sa.CheckConstraint("action IN ('import', 'adjust')", name="ck_oc_resolutions_action"),
    )
    op.create_index(
        "ix_oc_resolutions_pot_transaction", "oc_resolutions", ["pot_id", "oc_transaction_id"]
    )
    protect("oc_resolutions")
    op.create_table(
        "oc_expense_links",
        sa.Column("id", BigId, nullable=False),
        sa.Column("pot_id", BigId, nullable=False),
        sa.Column("expense_id", sa.String(100), nullable=False),
        sa.Column("expense_legacy_id", sa.BigInteger(), nullable=True),
        sa.Column("commitment", sa.String(100), nullable=True),
        sa.Column("status", sa.String(32), nullable=True),
        sa.Column("created_at", sa.String(27), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_oc_expense_links"),
        sa.ForeignKeyConstraint(
            ["pot_id"], ["pots.id"], name="fk_oc_expense_links_pot_id_pots", ondelete="RESTRICT"
        ),
        sa.UniqueConstraint("pot_id", "expense_id", name="uq_oc_expense_links_pot_id_expense_id"),
    )


def downgrade() -> None:
    op.drop_table("oc_expense_links")
    unprotect("oc_resolutions")
    op.drop_index("ix_oc_resolutions_pot_transaction", table_name="oc_resolutions")
    op.drop_table("oc_resolutions")
    op.drop_table("oc_links")
