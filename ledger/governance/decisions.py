"""Deciding a proposal: from its rules, its tally and the clock to open / approved / rejected /
expired, with a reason a member can read.

:func:`decide` is pure: the same inputs always give the same decision, so a read can compute
the right state at any moment without anyone having "closed" the vote, and the service that
moves money can compute it again inside its transaction and get the same answer.

What happens when, per rule (the voting window is ``opened_at <= t < closes_at``; at
``closes_at`` itself voting is over):

============  ===============================  ===========================================
rule          before the deadline              at or after the deadline
============  ===============================  ===========================================
stewards      approved once K stewards approve approved if K stewards approved, else expired
threshold     rejected once M members object;  rejected if M objected; approved if N
              else approved once N approve     approved; otherwise expired
consent       open                             rejected if anyone blocked; else approved
                                               with at least P participants, else expired
majority      open                             expired without quorum (participants * 100
                                               >= Q * eligible); else approved if
                                               approvals * 100 > X * (approvals +
                                               objections), otherwise rejected
============  ===============================  ===========================================

"Expired" means nobody decided (too few took part); "rejected" means the community said no.
Objections win over approvals under ``threshold`` (a tally with both N approvals and M
objections is rejected), and a block wins over too few participants under ``consent``.
Abstentions count as taking part (consent's P, majority's quorum) but are not votes cast.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from ledger.chain import format_timestamp
from ledger.errors import InvalidInput
from ledger.governance.rules import (
    ConsentRule,
    DecisionRules,
    MajorityRule,
    StewardsRule,
    ThresholdRule,
    format_percent,
)

__all__ = [
    "Decision",
    "InvalidTally",
    "InvalidVotingWindow",
    "Outcome",
    "Tally",
    "decide",
]


class InvalidTally(InvalidInput):
    """Counts that cannot describe a real vote (negative, or more voters than eligible)."""

    title = "Invalid tally"


class InvalidVotingWindow(InvalidInput):
    """Times that cannot describe a real vote (naive, deadline before opening, ...)."""

    title = "Invalid voting window"


class Outcome(StrEnum):
    OPEN = "open"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Tally:
    """The counts of one proposal's current votes; counts only, so it is the same under an
    open or a secret ballot.

    ``approvals``/``objections``/``abstentions`` count members' votes (an objection is a block
    under ``consent``); ``steward_approvals`` counts the stewards who approved, which is what
    the ``stewards`` rule looks at.
    """

    approvals: int = 0
    objections: int = 0
    abstentions: int = 0
    steward_approvals: int = 0

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidTally(f"{name} must be a whole number of at least 0, got {value!r}")

    @property
    def participants(self) -> int:
        """Members who voted at all, abstentions included."""
        return self.approvals + self.objections + self.abstentions

    @property
    def cast(self) -> int:
        """Votes that take a side: approvals and objections, not abstentions."""
        return self.approvals + self.objections

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class Decision:
    """Where a proposal stands. ``decided_at`` is None while ``OPEN``; for a decision at the
    deadline it is the deadline itself, however late anyone looked."""

    outcome: Outcome
    reason: str
    decided_at: datetime | None
    rule_version: int
    rule_kind: str
    tally: Tally

    @property
    def is_final(self) -> bool:
        return self.outcome is not Outcome.OPEN

    def to_dict(self) -> dict[str, Any]:
        """JSON-able, for the ledger entry and audit event that record the decision."""
        return {
            "outcome": self.outcome.value,
            "reason": self.reason,
            "decided_at": None if self.decided_at is None else format_timestamp(self.decided_at),
            "rule_version": self.rule_version,
            "rule_kind": self.rule_kind,
            "tally": self.tally.to_dict(),
        }


_Verdict = tuple[Outcome, str]


def decide(
    rules: DecisionRules,
    tally: Tally,
    *,
    now: datetime,
    opened_at: datetime,
    closes_at: datetime,
    eligible_members: int,
    eligible_stewards: int,
) -> Decision:
    """Decide a proposal under ``rules`` (the version in force when it opened).

    ``now`` is the moment of the question: for an early decision (stewards, threshold) the
    service passes the time of the vote that settled it, which becomes ``decided_at``.
    ``eligible_members`` counts the members entitled to vote on this proposal (without its
    proposers, and without late joiners unless the rules let them vote); it is the base of
    the majority quorum. ``eligible_stewards`` counts the stewards entitled to approve.

    All times must be timezone-aware. Raises :class:`InvalidTally` if the tally has more
    voters than eligible members (or stewards), :class:`InvalidVotingWindow` if the times are
    out of order.
    """
    _check_times(now=now, opened_at=opened_at, closes_at=closes_at)
    _check_electorate(tally, eligible_members, eligible_stewards)
    closed = now >= closes_at
    rule = rules.rule
    verdict: _Verdict
    if isinstance(rule, StewardsRule):
        verdict = _stewards(rule, tally, closed, eligible_stewards)
    elif isinstance(rule, ThresholdRule):
        verdict = _threshold(rule, tally, closed, eligible_members)
    elif isinstance(rule, ConsentRule):
        verdict = _consent(rule, tally, closed)
    else:
        verdict = _majority(rule, tally, closed, eligible_members)
    outcome, reason = verdict
    return Decision(
        outcome=outcome,
        reason=reason,
        decided_at=None if outcome is Outcome.OPEN else min(now, closes_at),
        rule_version=rules.version,
        rule_kind=rule.kind,
        tally=tally,
    )


def _stewards(rule: StewardsRule, tally: Tally, closed: bool, eligible: int) -> _Verdict:
    got, need = tally.steward_approvals, rule.approvals_needed
    if got >= need:
        return Outcome.APPROVED, f"{_n(got, 'steward')} approved ({need} needed)."
    if closed:
        return (
            Outcome.EXPIRED,
            f"The deadline passed with {got} of the {need} steward approvals needed.",
        )
    note = ""
    if eligible < need:
        # Not expired early: a steward may still be appointed before the deadline.
        note = f" Only {_n(eligible, 'steward')} can approve, so more stewards are needed."
    return Outcome.OPEN, f"{got} of {need} steward approvals so far.{note}"


def _threshold(rule: ThresholdRule, tally: Tally, closed: bool, eligible: int) -> _Verdict:
    need, stop = rule.approvals_needed, rule.objections_to_reject
    # Objections are checked first: "approved unless M or more object" means M objections
    # win even when N approvals are there too.
    if tally.objections >= stop:
        return (
            Outcome.REJECTED,
            f"{_n(tally.objections, 'member')} objected; the rules reject a proposal at "
            f"{_n(stop, 'objection')}.",
        )
    if tally.approvals >= need:
        return (
            Outcome.APPROVED,
            f"{_n(tally.approvals, 'member')} approved ({need} needed) and "
            f"{_n(tally.objections, 'objection')} (fewer than {stop}).",
        )
    if closed:
        return (
            Outcome.EXPIRED,
            f"The deadline passed with {tally.approvals} of the {need} approvals needed.",
        )
    note = ""
    if eligible < need:
        note = f" Only {_n(eligible, 'member')} can vote, so it cannot reach {need}."
    return (
        Outcome.OPEN,
        f"{tally.approvals} of {need} approvals so far; "
        f"{_n(tally.objections, 'objection')} ({stop} would stop it).{note}",
    )


def _consent(rule: ConsentRule, tally: Tally, closed: bool) -> _Verdict:
    blocks, took_part, need = tally.objections, tally.participants, rule.min_participants
    if not closed:
        # Even a block does not end the vote early: blocks can be withdrawn until the deadline.
        return (
            Outcome.OPEN,
            f"Decided at the deadline; so far {_n(took_part, 'member')} took part "
            f"(at least {need} needed) and {_n(blocks, 'block')}.",
        )
    if blocks:
        return Outcome.REJECTED, f"{_n(blocks, 'member')} blocked it."
    if took_part < need:
        return (
            Outcome.EXPIRED,
            f"Nobody blocked, but only {_n(took_part, 'member')} took part "
            f"(at least {need} needed).",
        )
    return (
        Outcome.APPROVED,
        f"Nobody blocked and {_n(took_part, 'member')} took part (at least {need} needed).",
    )


def _majority(rule: MajorityRule, tally: Tally, closed: bool, eligible: int) -> _Verdict:
    quorum, above = rule.quorum_percent, rule.approval_above_percent
    turnout = f"{tally.participants} of {eligible} members voted"
    if not closed:
        return (
            Outcome.OPEN,
            f"Decided at the deadline; so far {turnout}: {tally.approvals} approve, "
            f"{tally.objections} object, {tally.abstentions} abstain.",
        )
    # Fractions keep both comparisons exact: "at least Q%" and "more than X%" are
    # participants * 100 >= Q * eligible and approvals * 100 > X * cast, with no rounding.
    if tally.participants * 100 < quorum * eligible:
        return (
            Outcome.EXPIRED,
            f"No quorum: {turnout}, at least {format_percent(quorum)}% needed.",
        )
    share = f"{tally.approvals} of {_n(tally.cast, 'vote')} cast approve"
    needed = f"more than {format_percent(above)}% needed"
    if tally.approvals * 100 > above * tally.cast:
        return Outcome.APPROVED, f"{turnout} (quorum reached); {share} ({needed})."
    return Outcome.REJECTED, f"{turnout} (quorum reached), but {share} ({needed})."


def _check_times(*, now: datetime, opened_at: datetime, closes_at: datetime) -> None:
    for name, moment in (("now", now), ("opened_at", opened_at), ("closes_at", closes_at)):
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise InvalidVotingWindow(f"{name} must be timezone-aware, got {moment!r}")
    if closes_at <= opened_at:
        raise InvalidVotingWindow("a proposal must close after it opens")
    if now < opened_at:
        raise InvalidVotingWindow("a proposal cannot be decided before it opens")


def _check_electorate(tally: Tally, eligible_members: int, eligible_stewards: int) -> None:
    # More votes than voters means the caller counted two different groups; deciding on
    # such numbers could approve what the community did not.
    for name, value in (
        ("eligible_members", eligible_members),
        ("eligible_stewards", eligible_stewards),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidTally(f"{name} must be a whole number of at least 0, got {value!r}")
    if tally.participants > eligible_members:
        raise InvalidTally(
            f"{tally.participants} members voted but only {eligible_members} may vote"
        )
    if tally.steward_approvals > eligible_stewards:
        raise InvalidTally(
            f"{tally.steward_approvals} stewards approved but only {eligible_stewards} may"
        )


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
