"""Open Collective push: each pot's expense type and push state, and what is needed to follow
the expenses Commonpot creates for funded proposals.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ledger.schema  # noqa: F401  (every model on Base.metadata, for schema comparisons)

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # Batch mode: plain ALTER TABLE on PostgreSQL, a copied table on SQLite (which cannot add
    # a constraint to an existing table). Neither table has triggers or incoming foreign keys.
    with op.batch_alter_table("oc_links") as batch:
        batch.add_column(
            sa.Column("expense_type", sa.String(16), nullable=False, server_default="GRANT")
        )
        batch.add_column(sa.Column("last_pushed_at", sa.String(27), nullable=True))
        batch.add_column(sa.Column("push_error", sa.Text(), nullable=True))
        batch.add_column(sa.Column("push_error_at", sa.String(27), nullable=True))
        batch.add_column(sa.Column("push_lease_owner", sa.String(100), nullable=True))
        batch.add_column(sa.Column("push_lease_until", sa.String(27), nullable=True))
        batch.create_check_constraint(
            op.f("ck_oc_links_expense_type_known"), "expense_type IN ('GRANT', 'INVOICE')"
        )
    with op.batch_alter_table("oc_expense_links") as batch:
        batch.add_column(sa.Column("proposal_id", BigId, nullable=True))
        batch.add_column(sa.Column("last_checked_at", sa.String(27), nullable=True))
        batch.add_column(sa.Column("last_error", sa.Text(), nullable=True))
        batch.add_column(sa.Column("last_error_at", sa.String(27), nullable=True))
        batch.create_foreign_key(
            op.f("fk_oc_expense_links_proposal_id_proposals"),
            "proposals",
            ["proposal_id"],
            ["id"],
            ondelete="RESTRICT",
        )
        batch.create_unique_constraint(op.f("uq_oc_expense_links_proposal_id"), ["proposal_id"])


def downgrade() -> None:
    with op.batch_alter_table("oc_expense_links") as batch:
        batch.drop_constraint(op.f("uq_oc_expense_links_proposal_id"), type_="unique")
        batch.drop_constraint(op.f("fk_oc_expense_links_proposal_id_proposals"), type_="foreignkey")
        batch.drop_column("last_error_at")
        batch.drop_column("last_error")
        batch.drop_column("last_checked_at")
        batch.drop_column("proposal_id")
    with op.batch_alter_table("oc_links") as batch:
        batch.drop_constraint(op.f("ck_oc_links_expense_type_known"), type_="check")
        batch.drop_column("push_lease_until")
        batch.drop_column("push_lease_owner")
        batch.drop_column("push_error_at")
        batch.drop_column("push_error")
        batch.drop_column("last_pushed_at")
        batch.drop_column("expense_type")
