"""Members and collective decisions: users, API tokens, memberships and invitations; decision
rule versions (append-only), proposals, co-proposers and votes; the hash-chained audit log
(append-only); stored answers to idempotent API requests.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ledger.schema  # noqa: F401  (every model on Base.metadata, for schema comparisons)
from migrations.append_only import protect, unprotect

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
APPEND_ONLY = ("governance_rule_versions", "audit_events")


def upgrade() -> None:
    op.create_table(
        "idempotent_requests",
        sa.Column("id", BigId, nullable=False),
        sa.Column("caller", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.String(27), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotent_requests")),
        sa.UniqueConstraint("caller", "key", name=op.f("uq_idempotent_requests_caller_key")),
    )
    op.create_table(
        "users",
        sa.Column("id", BigId, nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("email_key", sa.String(length=254), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.String(27), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email_key", name=op.f("uq_users_email_key")),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", BigId, nullable=False),
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.String(27), nullable=False),
        sa.Column("last_used_at", sa.String(27), nullable=True),
        sa.Column("revoked_at", sa.String(27), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_index(op.f("ix_api_tokens_user_id"), "api_tokens", ["user_id"], unique=False)
    op.create_table(
        "audit_events",
        sa.Column("id", BigId, nullable=False),
        sa.Column("pot_id", BigId, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("recorded_at", sa.String(length=27), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("proposal_id", sa.BigInteger(), nullable=True),
        sa.Column("data_json", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.CheckConstraint("seq >= 1", name=op.f("ck_audit_events_seq_positive")),
        sa.ForeignKeyConstraint(
            ["pot_id"], ["pots.id"], name=op.f("fk_audit_events_pot_id_pots"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
        sa.UniqueConstraint("hash", name=op.f("uq_audit_events_hash")),
        sa.UniqueConstraint("pot_id", "seq", name=op.f("uq_audit_events_pot_id_seq")),
    )
    op.create_index("ix_audit_events_proposal_id", "audit_events", ["proposal_id"], unique=False)
    op.create_table(
        "governance_rule_versions",
        sa.Column("id", BigId, nullable=False),
        sa.Column("pot_id", BigId, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("rules_json", sa.Text(), nullable=False),
        sa.Column("set_by", BigId, nullable=True),
        sa.Column("set_at", sa.String(27), nullable=False),
        sa.CheckConstraint(
            "version >= 1", name=op.f("ck_governance_rule_versions_version_positive")
        ),
        sa.ForeignKeyConstraint(
            ["pot_id"],
            ["pots.id"],
            name=op.f("fk_governance_rule_versions_pot_id_pots"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["set_by"],
            ["users.id"],
            name=op.f("fk_governance_rule_versions_set_by_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_governance_rule_versions")),
        sa.UniqueConstraint(
            "pot_id", "version", name=op.f("uq_governance_rule_versions_pot_id_version")
        ),
    )
    op.create_table(
        "invitations",
        sa.Column("id", BigId, nullable=False),
        sa.Column("pot_id", BigId, nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("email_key", sa.String(length=254), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("invited_by", BigId, nullable=True),
        sa.Column("created_at", sa.String(27), nullable=False),
        sa.Column("expires_at", sa.String(27), nullable=False),
        sa.Column("accepted_at", sa.String(27), nullable=True),
        sa.Column("accepted_by", BigId, nullable=True),
        sa.Column("revoked_at", sa.String(27), nullable=True),
        sa.CheckConstraint(
            "role IN ('member', 'treasurer', 'steward')", name=op.f("ck_invitations_role_known")
        ),
        sa.ForeignKeyConstraint(
            ["accepted_by"],
            ["users.id"],
            name=op.f("fk_invitations_accepted_by_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["invited_by"],
            ["users.id"],
            name=op.f("fk_invitations_invited_by_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["pot_id"], ["pots.id"], name=op.f("fk_invitations_pot_id_pots"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitations")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_invitations_token_hash")),
    )
    op.create_index(
        "ix_invitations_pot_id_email_key", "invitations", ["pot_id", "email_key"], unique=False
    )
    op.create_table(
        "memberships",
        sa.Column("id", BigId, nullable=False),
        sa.Column("pot_id", BigId, nullable=False),
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("joined_at", sa.String(27), nullable=False),
        sa.CheckConstraint(
            "role IN ('member', 'treasurer', 'steward')", name=op.f("ck_memberships_role_known")
        ),
        sa.ForeignKeyConstraint(
            ["pot_id"], ["pots.id"], name=op.f("fk_memberships_pot_id_pots"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_memberships_user_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_memberships")),
        sa.UniqueConstraint("pot_id", "user_id", name=op.f("uq_memberships_pot_id_user_id")),
    )
    op.create_index("ix_memberships_user_id", "memberships", ["user_id"], unique=False)
    op.create_table(
        "proposals",
        sa.Column("id", BigId, nullable=False),
        sa.Column("pot_id", BigId, nullable=False),
        sa.Column("proposer_id", BigId, nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("payee_name", sa.String(length=200), nullable=False),
        sa.Column("payee_oc_slug", sa.String(length=255), nullable=True),
        sa.Column("category", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.String(27), nullable=False),
        sa.Column("rules_version", sa.Integer(), nullable=True),
        sa.Column("opened_at", sa.String(27), nullable=True),
        sa.Column("closes_at", sa.String(27), nullable=True),
        sa.Column("decided_at", sa.String(27), nullable=True),
        sa.Column("decision_json", sa.Text(), nullable=True),
        sa.Column("approval_seq", sa.BigInteger(), nullable=True),
        sa.Column("funded_at", sa.String(27), nullable=True),
        sa.Column("funding_entry_seq", sa.BigInteger(), nullable=True),
        sa.Column("paid_amount", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "status IN ('draft', 'open', 'approved', 'rejected', 'withdrawn', 'expired', 'funded', 'partly_paid', 'paid', 'closed')",
            name=op.f("ck_proposals_status_known"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_proposals_amount_positive")),
        sa.CheckConstraint(
            "paid_amount >= 0 AND paid_amount <= amount",
            name=op.f("ck_proposals_paid_within_amount"),
        ),
        sa.ForeignKeyConstraint(
            ["pot_id"], ["pots.id"], name=op.f("fk_proposals_pot_id_pots"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["proposer_id"],
            ["users.id"],
            name=op.f("fk_proposals_proposer_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proposals")),
    )
    op.create_index(
        "ix_proposals_pot_id_proposer_id", "proposals", ["pot_id", "proposer_id"], unique=False
    )
    op.create_index("ix_proposals_pot_id_status", "proposals", ["pot_id", "status"], unique=False)
    op.create_index(
        "ix_proposals_status_closes_at", "proposals", ["status", "closes_at"], unique=False
    )
    op.create_table(
        "proposal_co_proposers",
        sa.Column("proposal_id", BigId, nullable=False),
        sa.Column("user_id", BigId, nullable=False),
        sa.ForeignKeyConstraint(
            ["proposal_id"],
            ["proposals.id"],
            name=op.f("fk_proposal_co_proposers_proposal_id_proposals"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_proposal_co_proposers_user_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("proposal_id", "user_id", name=op.f("pk_proposal_co_proposers")),
    )
    op.create_table(
        "proposal_votes",
        sa.Column("id", BigId, nullable=False),
        sa.Column("proposal_id", BigId, nullable=False),
        sa.Column("voter_key", sa.String(length=64), nullable=False),
        sa.Column("voter_id", BigId, nullable=True),
        sa.Column("choice", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("by_steward", sa.Boolean(), nullable=False),
        sa.Column("cast_at", sa.String(27), nullable=False),
        sa.Column("changed_at", sa.String(27), nullable=False),
        sa.CheckConstraint(
            "choice IN ('approve', 'object', 'abstain')",
            name=op.f("ck_proposal_votes_choice_known"),
        ),
        sa.ForeignKeyConstraint(
            ["proposal_id"],
            ["proposals.id"],
            name=op.f("fk_proposal_votes_proposal_id_proposals"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["voter_id"],
            ["users.id"],
            name=op.f("fk_proposal_votes_voter_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proposal_votes")),
        sa.UniqueConstraint(
            "proposal_id", "voter_key", name=op.f("uq_proposal_votes_proposal_id_voter_key")
        ),
    )
    for table in APPEND_ONLY:
        protect(table)


def downgrade() -> None:
    for table in APPEND_ONLY:
        unprotect(table)
    op.drop_table("proposal_votes")
    op.drop_table("proposal_co_proposers")
    op.drop_table("proposals")
    op.drop_table("memberships")
    op.drop_table("invitations")
    op.drop_table("governance_rule_versions")
    op.drop_table("audit_events")
    op.drop_table("api_tokens")
    op.drop_table("users")
    op.drop_table("idempotent_requests")
