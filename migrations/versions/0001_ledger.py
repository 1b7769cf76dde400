"""The ledger: pots, append-only entries and postings, maintained balances.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from migrations.append_only import protect, unprotect

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "pots",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("slug", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("head_seq", sa.BigInteger(), nullable=False),
        sa.Column("head_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_pots"),
        sa.UniqueConstraint("slug", name="uq_pots_slug"),
    )
    op.create_table(
        "ledger_entries",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("pot_id", BigId, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("recorded_at", sa.String(27), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("memo", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("external_ref", sa.String(200), nullable=True),
        sa.Column("idempotency_key", sa.String(200), nullable=True),
        sa.Column("reverses_seq", sa.BigInteger(), nullable=True),
        sa.Column("data_json", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_entries"),
        sa.ForeignKeyConstraint(
            ["pot_id"], ["pots.id"], name="fk_ledger_entries_pot_id_pots", ondelete="RESTRICT"
        ),
        sa.UniqueConstraint("pot_id", "seq", name="uq_ledger_entries_pot_id_seq"),
        sa.UniqueConstraint("pot_id", "external_ref", name="uq_ledger_entries_pot_id_external_ref"),
        sa.UniqueConstraint(
            "pot_id", "idempotency_key", name="uq_ledger_entries_pot_id_idempotency_key"
        ),
        sa.UniqueConstraint("pot_id", "reverses_seq", name="uq_ledger_entries_pot_id_reverses_seq"),
        sa.UniqueConstraint("hash", name="uq_ledger_entries_hash"),
        sa.CheckConstraint("seq >= 1", name="seq_positive"),
    )
    op.create_index("ix_ledger_entries_pot_kind_seq", "ledger_entries", ["pot_id", "kind", "seq"])
    op.create_index(
        "ix_ledger_entries_pot_recorded_at", "ledger_entries", ["pot_id", "recorded_at"]
    )
    op.create_table(
        "ledger_postings",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("entry_id", BigId, nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("account", sa.String(100), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_postings"),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["ledger_entries.id"],
            name="fk_ledger_postings_entry_id_ledger_entries",
            ondelete="RESTRICT",
        ),
        sa.UniqueConstraint("entry_id", "position", name="uq_ledger_postings_entry_id_position"),
        sa.CheckConstraint("amount <> 0", name="amount_nonzero"),
    )
    op.create_table(
        "ledger_balances",
        sa.Column("pot_id", BigId, nullable=False),
        sa.Column("account", sa.String(100), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("non_negative", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("pot_id", "account", name="pk_ledger_balances"),
        sa.ForeignKeyConstraint(["pot_id"], ["pots.id"], name="fk_ledger_balances_pot_id_pots"),
        sa.CheckConstraint(
            "NOT non_negative OR amount >= 0", name="non_negative"
        ),
    )
    protect("ledger_entries")
    protect("ledger_postings")


def downgrade() -> None:
    unprotect("ledger_postings")
    unprotect("ledger_entries")
    op.drop_table("ledger_balances")
    op.drop_table("ledger_postings")
    op.drop_index("ix_ledger_entries_pot_recorded_at", table_name="ledger_entries")
    op.drop_index("ix_ledger_entries_pot_kind_seq", table_name="ledger_entries")
    op.drop_table("ledger_entries")
    op.drop_table("pots")
