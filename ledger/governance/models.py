"""Rule versions, proposals, co-proposers and votes (tables made by migration 0005).

``governance_rule_versions`` is append-only (a change is a new version). A proposal's row holds
its current state, and a vote's row the member's current choice; every change to either is
also an event in the pot's hash-chained audit log (:mod:`ledger.audit`), which is where the
history lives and what verification checks.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ledger.models import Base, BigId
from ledger.timestamps import Timestamp

MAX_TITLE = 200
MAX_SUMMARY = 20_000
MAX_REASON = 2_000
MAX_CATEGORY = 64
MAX_PAYEE = 200
MAX_OC_SLUG = 255


class Status(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    #: Approved, waiting for funds: funded in approval order as money arrives.
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    FUNDED = "funded"
    PARTLY_PAID = "partly_paid"
    PAID = "paid"
    CLOSED = "closed"


STATUS_VALUES = tuple(s.value for s in Status)


class Choice(StrEnum):
    APPROVE = "approve"
    #: An objection; under the consent rule, a block.
    OBJECT = "object"
    ABSTAIN = "abstain"


class RuleVersion(Base):
    __tablename__ = "governance_rule_versions"
    __table_args__ = (
        UniqueConstraint("pot_id", "version"),
        CheckConstraint("version >= 1", name="version_positive"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    pot_id: Mapped[int] = mapped_column(ForeignKey("pots.id", ondelete="RESTRICT"))
    version: Mapped[int] = mapped_column(Integer)
    # DecisionRules.to_dict() as canonical JSON.
    rules_json: Mapped[str] = mapped_column(Text)
    set_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    set_at: Mapped[datetime] = mapped_column(Timestamp)


class Proposal(Base):
    __tablename__ = "proposals"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("paid_amount >= 0 AND paid_amount <= amount", name="paid_within_amount"),
        CheckConstraint("status IN ('" + "', '".join(STATUS_VALUES) + "')", name="status_known"),
        Index("ix_proposals_pot_id_status", "pot_id", "status"),
        Index("ix_proposals_pot_id_proposer_id", "pot_id", "proposer_id"),
        Index("ix_proposals_status_closes_at", "status", "closes_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    pot_id: Mapped[int] = mapped_column(ForeignKey("pots.id", ondelete="RESTRICT"))
    proposer_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    title: Mapped[str] = mapped_column(String(MAX_TITLE))
    summary: Mapped[str] = mapped_column(Text)
    amount: Mapped[int] = mapped_column(BigInteger)  # minor units of the pot's currency
    payee_name: Mapped[str] = mapped_column(String(MAX_PAYEE))
    payee_oc_slug: Mapped[str | None] = mapped_column(String(MAX_OC_SLUG))
    category: Mapped[str | None] = mapped_column(String(MAX_CATEGORY))
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    # Set when it opens: the rules in force then decide it, whatever changes later.
    rules_version: Mapped[int | None] = mapped_column(Integer)
    opened_at: Mapped[datetime | None] = mapped_column(Timestamp)
    closes_at: Mapped[datetime | None] = mapped_column(Timestamp)
    decided_at: Mapped[datetime | None] = mapped_column(Timestamp)
    # Decision.to_dict() as JSON once decided.
    decision_json: Mapped[str | None] = mapped_column(Text)
    # Position in the queue of approved proposals waiting for funds (approval order).
    approval_seq: Mapped[int | None] = mapped_column(BigInteger)
    funded_at: Mapped[datetime | None] = mapped_column(Timestamp)
    # The ledger entry that committed its money, and the money paid out of it so far.
    funding_entry_seq: Mapped[int | None] = mapped_column(BigInteger)
    paid_amount: Mapped[int] = mapped_column(BigInteger, default=0)


class CoProposer(Base):
    """Someone who put the proposal forward with its proposer (and so cannot vote on it)."""

    __tablename__ = "proposal_co_proposers"

    proposal_id: Mapped[int] = mapped_column(
        ForeignKey("proposals.id", ondelete="RESTRICT"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT"), primary_key=True
    )


class Vote(Base):
    """A member's current vote on a proposal.

    Under a secret ballot ``voter_id`` is NULL and ``voter_key`` is a keyed hash of the voter
    and the proposal, so the row names nobody: the service can find *your* vote (to change it
    or show it to you) but cannot list who voted how.
    """

    __tablename__ = "proposal_votes"
    __table_args__ = (
        UniqueConstraint("proposal_id", "voter_key"),
        CheckConstraint("choice IN ('approve', 'object', 'abstain')", name="choice_known"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id", ondelete="RESTRICT"))
    voter_key: Mapped[str] = mapped_column(String(64))
    voter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    choice: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str | None] = mapped_column(Text)
    # Whether the voter was a steward when voting (what the ``stewards`` rule counts).
    by_steward: Mapped[bool] = mapped_column(Boolean)
    cast_at: Mapped[datetime] = mapped_column(Timestamp)
    changed_at: Mapped[datetime] = mapped_column(Timestamp)
