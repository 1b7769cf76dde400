"""Participatory-budgeting rounds: rounds (budget reserved as a ledger commitment, schedule,
ballot limits, state), their projects (reviewed by stewards), secret approval ballots keyed by a
keyed hash of the member, co-funding pledges keyed the same way, and results (append-only).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ledger.schema  # noqa: F401  (every model on Base.metadata, for schema comparisons)
from migrations.append_only import protect, unprotect

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
APPEND_ONLY = ("round_results",)


def upgrade() -> None:
    op.create_table(
        "rounds",
        sa.Column("id", BigId, nullable=False),
        sa.Column("pot_id", BigId, nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("rule", sa.String(length=32), nullable=True),
        sa.Column("budget", sa.BigInteger(), nullable=False),
        sa.Column("proposals_open", sa.String(27), nullable=False),
        sa.Column("review_starts", sa.String(27), nullable=False),
        sa.Column("voting_starts", sa.String(27), nullable=False),
        sa.Column("results_at", sa.String(27), nullable=False),
        sa.Column("funded_at", sa.String(27), nullable=False),
        sa.Column("min_projects", sa.Integer(), nullable=False),
        sa.Column("max_projects", sa.Integer(), nullable=True),
        sa.Column("max_cost", sa.BigInteger(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_by", BigId, nullable=True),
        sa.Column("created_at", sa.String(27), nullable=False),
        sa.Column("commitment_entry_seq", sa.BigInteger(), nullable=False),
        sa.Column("funded", sa.Boolean(), nullable=False),
        sa.Column("settled_at", sa.String(27), nullable=True),
        sa.Column("settlement_entry_seq", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "(kind = 'approval' AND rule IN "
            "('greedy', 'mes', 'mes_add1', 'mes_add1_greedy', 'mes_cardinality')) "
            "OR (kind = 'cofunding' AND rule IS NULL)",
            name=op.f("ck_rounds_rule_fits_kind"),
        ),
        sa.CheckConstraint("kind IN ('approval', 'cofunding')", name=op.f("ck_rounds_kind_known")),
        sa.CheckConstraint(
            "state IN ('scheduled', 'proposals', 'review', 'voting', 'results', 'funded')",
            name=op.f("ck_rounds_state_known"),
        ),
        sa.CheckConstraint("budget > 0", name=op.f("ck_rounds_budget_positive")),
        sa.CheckConstraint("min_projects >= 1", name=op.f("ck_rounds_min_projects_positive")),
        sa.CheckConstraint(
            "proposals_open < review_starts AND review_starts < voting_starts AND "
            "voting_starts < results_at AND results_at < funded_at",
            name=op.f("ck_rounds_schedule_in_order"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_rounds_created_by_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["pot_id"], ["pots.id"], name=op.f("fk_rounds_pot_id_pots"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rounds")),
    )
    op.create_index("ix_rounds_funded_results_at", "rounds", ["funded", "results_at"], unique=False)
    op.create_index("ix_rounds_pot_id_funded", "rounds", ["pot_id", "funded"], unique=False)
    op.create_table(
        "round_ballots",
        sa.Column("id", BigId, nullable=False),
        sa.Column("round_id", BigId, nullable=False),
        sa.Column("voter_key", sa.String(length=64), nullable=False),
        sa.Column("cast_at", sa.String(27), nullable=False),
        sa.Column("changed_at", sa.String(27), nullable=False),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["rounds.id"],
            name=op.f("fk_round_ballots_round_id_rounds"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_round_ballots")),
        sa.UniqueConstraint(
            "round_id", "voter_key", name=op.f("uq_round_ballots_round_id_voter_key")
        ),
    )
    op.create_table(
        "round_projects",
        sa.Column("id", BigId, nullable=False),
        sa.Column("round_id", BigId, nullable=False),
        sa.Column("proposer_id", BigId, nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("cost", sa.BigInteger(), nullable=False),
        sa.Column("minimum", sa.BigInteger(), nullable=True),
        sa.Column("payee_name", sa.String(length=200), nullable=False),
        sa.Column("payee_oc_slug", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.String(27), nullable=False),
        sa.Column("review", sa.String(length=16), nullable=False),
        sa.Column("review_reason", sa.Text(), nullable=True),
        sa.Column("reviewed_by", BigId, nullable=True),
        sa.Column("reviewed_at", sa.String(27), nullable=True),
        sa.Column("proposal_id", BigId, nullable=True),
        sa.CheckConstraint(
            "review IN ('pending', 'eligible', 'ineligible')",
            name=op.f("ck_round_projects_review_known"),
        ),
        sa.CheckConstraint("cost > 0", name=op.f("ck_round_projects_cost_positive")),
        sa.CheckConstraint(
            "minimum IS NULL OR (minimum > 0 AND minimum <= cost)",
            name=op.f("ck_round_projects_minimum_fits"),
        ),
        sa.ForeignKeyConstraint(
            ["proposal_id"],
            ["proposals.id"],
            name=op.f("fk_round_projects_proposal_id_proposals"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["proposer_id"],
            ["users.id"],
            name=op.f("fk_round_projects_proposer_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by"],
            ["users.id"],
            name=op.f("fk_round_projects_reviewed_by_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["rounds.id"],
            name=op.f("fk_round_projects_round_id_rounds"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_round_projects")),
    )
    op.create_index("ix_round_projects_round_id", "round_projects", ["round_id"], unique=False)
    op.create_table(
        "round_results",
        sa.Column("id", BigId, nullable=False),
        sa.Column("round_id", BigId, nullable=False),
        sa.Column("counted_at", sa.String(27), nullable=False),
        sa.Column("voters", sa.Integer(), nullable=False),
        sa.Column("spent", sa.BigInteger(), nullable=False),
        sa.Column("awards_json", sa.Text(), nullable=False),
        sa.Column("explanation_json", sa.Text(), nullable=False),
        sa.Column("pb_text", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["rounds.id"],
            name=op.f("fk_round_results_round_id_rounds"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_round_results")),
        sa.UniqueConstraint("round_id", name=op.f("uq_round_results_round_id")),
    )
    op.create_table(
        "round_ballot_approvals",
        sa.Column("ballot_id", BigId, nullable=False),
        sa.Column("project_id", BigId, nullable=False),
        sa.ForeignKeyConstraint(
            ["ballot_id"],
            ["round_ballots.id"],
            name=op.f("fk_round_ballot_approvals_ballot_id_round_ballots"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["round_projects.id"],
            name=op.f("fk_round_ballot_approvals_project_id_round_projects"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("ballot_id", "project_id", name=op.f("pk_round_ballot_approvals")),
    )
    op.create_index(
        "ix_round_ballot_approvals_project_id",
        "round_ballot_approvals",
        ["project_id"],
        unique=False,
    )
    op.create_table(
        "round_pledges",
        sa.Column("id", BigId, nullable=False),
        sa.Column("round_id", BigId, nullable=False),
        sa.Column("pledger_key", sa.String(length=64), nullable=False),
        sa.Column("project_id", BigId, nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("pledged_at", sa.String(27), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_round_pledges_amount_positive")),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["round_projects.id"],
            name=op.f("fk_round_pledges_project_id_round_projects"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["rounds.id"],
            name=op.f("fk_round_pledges_round_id_rounds"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_round_pledges")),
        sa.UniqueConstraint(
            "round_id",
            "pledger_key",
            "project_id",
            name=op.f("uq_round_pledges_round_id_pledger_key_project_id"),
        ),
    )
    op.create_index("ix_round_pledges_project_id", "round_pledges", ["project_id"], unique=False)

    for table in APPEND_ONLY:
        protect(table)


def downgrade() -> None:
    for table in APPEND_ONLY:
        unprotect(table)
    op.drop_table("round_pledges")
    op.drop_table("round_ballot_approvals")
    op.drop_table("round_results")
    op.drop_table("round_projects")
    op.drop_table("round_ballots")
    op.drop_table("rounds")
