"""Rounds, their projects, ballots, pledges and results (tables made by migration 0006).

Ballots and pledges are always secret: their rows are keyed by a keyed hash of the round and
the member (``voter_key``, as for secret proposal votes), so the service can find *your*
ballot but nobody can list who approved what. ``round_results`` is append-only: a round is
counted once, and its result is never rewritten.
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
from ledger.pb.rules import RULES
from ledger.timestamps import Timestamp

MAX_TITLE = 200
MAX_SUMMARY = 20_000
MAX_REASON = 2_000
MAX_PAYEE = 200
MAX_OC_SLUG = 255


class Kind(StrEnum):
    APPROVAL = "approval"  # approval ballots counted by a rule (greedy, Equal Shares)
    COFUNDING = "cofunding"  # equal shares pledged by members (the Cobudget model)


class Review(StrEnum):
    PENDING = "pending"
    ELIGIBLE = "eligible"
    INELIGIBLE = "ineligible"


KIND_VALUES = tuple(k.value for k in Kind)
RULE_VALUES = tuple(sorted(RULES))
PHASE_VALUES = ("scheduled", "proposals", "review", "voting", "results", "funded")
REVIEW_VALUES = tuple(r.value for r in Review)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ('" + "', '".join(values) + "')"


class Round(Base):
    __tablename__ = "rounds"
    __table_args__ = (
        CheckConstraint("budget > 0", name="budget_positive"),
        CheckConstraint(_one_of("kind", KIND_VALUES), name="kind_known"),
        CheckConstraint(
            "(kind = 'approval' AND " + _one_of("rule", RULE_VALUES) + ") OR "
            "(kind = 'cofunding' AND rule IS NULL)",
            name="rule_fits_kind",
        ),
        CheckConstraint(_one_of("state", PHASE_VALUES), name="state_known"),
        CheckConstraint(
            "proposals_open < review_starts AND review_starts < voting_starts AND "
            "voting_starts < results_at AND results_at < funded_at",
            name="schedule_in_order",
        ),
        CheckConstraint("min_projects >= 1", name="min_projects_positive"),
        Index("ix_rounds_pot_id_funded", "pot_id", "funded"),
        Index("ix_rounds_funded_results_at", "funded", "results_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    pot_id: Mapped[int] = mapped_column(ForeignKey("pots.id", ondelete="RESTRICT"))
    title: Mapped[str] = mapped_column(String(MAX_TITLE))
    description: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))
    rule: Mapped[str | None] = mapped_column(String(32))  # approval rounds only
    budget: Mapped[int] = mapped_column(BigInteger)  # minor units of the pot's currency
    proposals_open: Mapped[datetime] = mapped_column(Timestamp)
    review_starts: Mapped[datetime] = mapped_column(Timestamp)
    voting_starts: Mapped[datetime] = mapped_column(Timestamp)
    results_at: Mapped[datetime] = mapped_column(Timestamp)
    funded_at: Mapped[datetime] = mapped_column(Timestamp)
    min_projects: Mapped[int] = mapped_column(Integer)
    max_projects: Mapped[int | None] = mapped_column(Integer)
    max_cost: Mapped[int | None] = mapped_column(BigInteger)
    # The last phase a write saw (reads compute the phase from the clock).
    state: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    # The allocation entry that reserved the budget in committed:round:<id>.
    commitment_entry_seq: Mapped[int] = mapped_column(BigInteger)
    # Set once, when the winners were funded and the rest released (in one transaction).
    funded: Mapped[bool] = mapped_column(Boolean, default=False)
    settled_at: Mapped[datetime | None] = mapped_column(Timestamp)
    settlement_entry_seq: Mapped[int | None] = mapped_column(BigInteger)


class RoundProject(Base):
    """A project proposed in a round. ``cost`` is what it costs (approval rounds) or the most
    it may receive (co-funding rounds, where ``minimum`` is what it needs to go ahead)."""

    __tablename__ = "round_projects"
    __table_args__ = (
        CheckConstraint("cost > 0", name="cost_positive"),
        CheckConstraint(
            "minimum IS NULL OR (minimum > 0 AND minimum <= cost)", name="minimum_fits"
        ),
        CheckConstraint(_one_of("review", REVIEW_VALUES), name="review_known"),
        Index("ix_round_projects_round_id", "round_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id", ondelete="RESTRICT"))
    proposer_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    title: Mapped[str] = mapped_column(String(MAX_TITLE))
    summary: Mapped[str] = mapped_column(Text)
    cost: Mapped[int] = mapped_column(BigInteger)
    minimum: Mapped[int | None] = mapped_column(BigInteger)
    payee_name: Mapped[str] = mapped_column(String(MAX_PAYEE))
    payee_oc_slug: Mapped[str | None] = mapped_column(String(MAX_OC_SLUG))
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    review: Mapped[str] = mapped_column(String(16))
    review_reason: Mapped[str | None] = mapped_column(Text)
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    reviewed_at: Mapped[datetime | None] = mapped_column(Timestamp)
    # The funded proposal it became, if it won.
    proposal_id: Mapped[int | None] = mapped_column(ForeignKey("proposals.id", ondelete="RESTRICT"))


class RoundBallot(Base):
    """A member's current approval ballot in a round; names nobody (see the module doc)."""

    __tablename__ = "round_ballots"
    __table_args__ = (UniqueConstraint("round_id", "voter_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id", ondelete="RESTRICT"))
    voter_key: Mapped[str] = mapped_column(String(64))
    cast_at: Mapped[datetime] = mapped_column(Timestamp)
    changed_at: Mapped[datetime] = mapped_column(Timestamp)


class RoundApproval(Base):
    """One project approved on one ballot."""

    __tablename__ = "round_ballot_approvals"
    __table_args__ = (Index("ix_round_ballot_approvals_project_id", "project_id"),)

    ballot_id: Mapped[int] = mapped_column(
        ForeignKey("round_ballots.id", ondelete="CASCADE"), primary_key=True
    )
    project_id: Mapped[int] = mapped_column(
        ForeignKey("round_projects.id", ondelete="RESTRICT"), primary_key=True
    )


class RoundPledge(Base):
    """Money a member pledged to a project in a co-funding round (keyed like a ballot)."""

    __tablename__ = "round_pledges"
    __table_args__ = (
        UniqueConstraint("round_id", "pledger_key", "project_id"),
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_round_pledges_project_id", "project_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id", ondelete="RESTRICT"))
    pledger_key: Mapped[str] = mapped_column(String(64))
    project_id: Mapped[int] = mapped_column(ForeignKey("round_projects.id", ondelete="RESTRICT"))
    amount: Mapped[int] = mapped_column(BigInteger)
    pledged_at: Mapped[datetime] = mapped_column(Timestamp)


class RoundResult(Base):
    """A counted round (append-only): winners, what they get, and the explanation."""

    __tablename__ = "round_results"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id", ondelete="RESTRICT"), unique=True)
    counted_at: Mapped[datetime] = mapped_column(Timestamp)
    voters: Mapped[int] = mapped_column(Integer)
    spent: Mapped[int] = mapped_column(BigInteger)
    # [["<project id>", minor units it receives], ...] as JSON, in selection order.
    awards_json: Mapped[str] = mapped_column(Text)
    # The aggregate explanation (ledger.pb.explain.Explanation.as_dict(), or co-funding's).
    explanation_json: Mapped[str] = mapped_column(Text)
    # The pabulib export of an approval round (anonymous ballots).
    pb_text: Mapped[str | None] = mapped_column(Text)
