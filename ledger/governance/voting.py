"""Votes, tallies, and settling a proposal: applying its decision when there is one.

A read never needs anyone to have "closed" a vote: :func:`current_decision` computes where a
proposal stands from its rules version, its votes and the clock. :func:`settle` makes that
decision stick (status, audit event, and for an approval the commitment of its money), inside
the caller's transaction with the pot's lock held; it is what a settling vote, a withdrawal and
``commonpot proposals close-due`` call.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from ledger import audit
from ledger.chain import canonical_json_text
from ledger.errors import InvalidInput
from ledger.governance.decisions import Decision, Outcome, Tally, decide
from ledger.governance.errors import NotAllowedToVote, VotingClosed
from ledger.governance.funding import queue_for_funding
from ledger.governance.models import MAX_REASON, Choice, CoProposer, Proposal, Status, Vote
from ledger.governance.rulebook import rules_version
from ledger.governance.rules import Ballot, DecisionRules
from ledger.models import Pot
from ledger.people.membership import membership
from ledger.people.models import Membership, Role


@dataclass(frozen=True)
class Electorate:
    members: int
    stewards: int


def voter_key(ballot_key: bytes, proposal_id: int, user_id: int) -> str:
    """Names a voter's row without naming the voter (see ``Vote``)."""
    message = f"vote:{proposal_id}:{user_id}".encode()
    return hmac.new(ballot_key, message, hashlib.sha256).hexdigest()


def tally(session: Session, proposal: Proposal) -> Tally:
    return tallies(session, [proposal.id])[proposal.id]


def tallies(session: Session, proposal_ids: Collection[int]) -> dict[int, Tally]:
    """Each proposal's tally, in one query (a list of proposals costs no more than one)."""
    if not proposal_ids:
        return {}
    rows = session.execute(
        select(Vote.proposal_id, Vote.choice, Vote.by_steward, func.count())
        .where(Vote.proposal_id.in_(proposal_ids))
        .group_by(Vote.proposal_id, Vote.choice, Vote.by_steward)
    ).all()
    counts = {pid: {"approve": 0, "object": 0, "abstain": 0} for pid in proposal_ids}
    steward_approvals = dict.fromkeys(proposal_ids, 0)
    for proposal_id, choice, by_steward, count in rows:
        counts[proposal_id][choice] += count
        if choice == Choice.APPROVE and by_steward:
            steward_approvals[proposal_id] += count
    return {
        pid: Tally(
            approvals=counted["approve"],
            objections=counted["object"],
            abstentions=counted["abstain"],
            steward_approvals=steward_approvals[pid],
        )
        for pid, counted in counts.items()
    }


def proposers(session: Session, proposal: Proposal) -> set[int]:
    co = session.scalars(select(CoProposer.user_id).where(CoProposer.proposal_id == proposal.id))
    return {proposal.proposer_id, *co}


def electorate(session: Session, proposal: Proposal, rules: DecisionRules) -> Electorate:
    return electorates(session, [proposal], {proposal.id: rules})[proposal.id]


def electorates(
    session: Session, proposals: Sequence[Proposal], rules: Mapping[int, DecisionRules]
) -> dict[int, Electorate]:
    """Who may vote on each opened proposal (``rules`` by proposal id), in one query: members
    other than its proposers, without late joiners unless its rules allow them."""
    if not proposals:
        return {}
    assert all(p.opened_at is not None for p in proposals)
    late_joiners_welcome = [p.id for p in proposals if rules[p.id].late_joiners_may_vote]
    co_proposer = select(CoProposer.user_id).where(CoProposer.proposal_id == Proposal.id)
    rows = session.execute(
        select(Proposal.id, Membership.role, func.count())
        .join(Membership, Membership.pot_id == Proposal.pot_id)
        .where(
            Proposal.id.in_([p.id for p in proposals]),
            Membership.user_id != Proposal.proposer_id,
            Membership.user_id.not_in(co_proposer.scalar_subquery()),
            or_(
                Proposal.id.in_(late_joiners_welcome),
                Membership.joined_at <= Proposal.opened_at,
            ),
        )
        .group_by(Proposal.id, Membership.role)
    ).all()
    counts: dict[int, dict[str, int]] = {p.id: {} for p in proposals}
    for proposal_id, role, count in rows:
        counts[proposal_id][role] = count
    return {
        pid: Electorate(sum(by_role.values()), by_role.get(Role.STEWARD.value, 0))
        for pid, by_role in counts.items()
    }


def current_decision(
    session: Session,
    pot: Pot,
    proposal: Proposal,
    *,
    now: datetime,
    rules: DecisionRules | None = None,
    counted: Tally | None = None,
    voters: Electorate | None = None,
) -> Decision | None:
    """Where an open proposal stands at ``now`` (None unless it is open). A caller that has
    already read the proposal's rules version, tally or electorate passes them in."""
    if proposal.status != Status.OPEN:
        return None
    assert proposal.rules_version and proposal.opened_at and proposal.closes_at
    if rules is None:
        rules = rules_version(session, pot, proposal.rules_version)
    if counted is None:
        counted = tally(session, proposal)
    if voters is None:
        voters = electorate(session, proposal, rules)
    # A member removed after voting still counted: the electorate is never smaller than the
    # votes already cast, so the arithmetic stays honest.
    return decide(
        rules,
        counted,
        now=max(now, proposal.opened_at),
        opened_at=proposal.opened_at,
        closes_at=proposal.closes_at,
        eligible_members=max(voters.members, counted.participants),
        eligible_stewards=max(voters.stewards, counted.steward_approvals),
    )


def settle(session: Session, pot: Pot, proposal: Proposal, *, now: datetime) -> Decision | None:
    """Apply the proposal's decision if it has one; returns it (None while still open)."""
    decision = current_decision(session, pot, proposal, now=now)
    if decision is None or not decision.is_final:
        return None
    assert decision.decided_at is not None
    proposal.decided_at = decision.decided_at
    proposal.decision_json = canonical_json_text(decision.to_dict())
    proposal.status = Status(decision.outcome.value)
    audit.record(
        session,
        pot,
        "proposal_decided",
        actor="decision",
        proposal_id=proposal.id,
        data=decision.to_dict(),
        now=now,
    )
    if decision.outcome is Outcome.APPROVED:
        queue_for_funding(session, pot, proposal, now=now)
    return decision


def cast_vote(
    session: Session,
    pot: Pot,
    proposal: Proposal,
    *,
    user_id: int,
    choice: str,
    reason: str | None,
    ballot_key: bytes,
    now: datetime,
) -> tuple[Vote, Decision | None]:
    """Cast or change ``user_id``'s vote, then settle the proposal if the vote decided it.
    The caller holds the pot's lock."""
    choice = _check_choice(choice)
    reason = _check_reason(reason)
    if proposal.status != Status.OPEN:
        raise VotingClosed(f"proposal #{proposal.id} is {proposal.status}; votes are closed")
    assert proposal.rules_version and proposal.opened_at and proposal.closes_at
    if now >= proposal.closes_at:
        raise VotingClosed(f"voting on proposal #{proposal.id} closed at {proposal.closes_at}")
    rules = rules_version(session, pot, proposal.rules_version)
    member = membership(session, pot.id, user_id)
    if member is None:
        raise NotAllowedToVote(f"only members of {pot.slug} may vote")
    if user_id in proposers(session, proposal):
        raise NotAllowedToVote("proposers cannot vote on their own proposal")
    if not rules.may_vote(member.joined_at, proposal.opened_at):
        raise NotAllowedToVote(
            "you joined after this proposal opened, and the rules it is decided under "
            "let only earlier members vote"
        )
    secret = rules.ballot is Ballot.SECRET
    vote = my_vote(session, proposal, user_id, ballot_key)
    changed = vote is not None
    if vote is None:
        key = voter_key(ballot_key, proposal.id, user_id)
        vote = Vote(proposal_id=proposal.id, voter_key=key, cast_at=now)
        session.add(vote)
    vote.voter_id = None if secret else user_id
    vote.choice = choice
    vote.reason = reason
    vote.by_steward = member.role == Role.STEWARD
    vote.changed_at = now
    session.flush()
    audit.record(
        session,
        pot,
        "vote_changed" if changed else "vote_cast",
        # Under a secret ballot the log names neither the voter nor the choice.
        actor="secret ballot" if secret else f"user:{user_id}",
        proposal_id=proposal.id,
        data={"ballot": "secret"} if secret else {"choice": choice, "reason": reason},
        now=now,
    )
    return vote, settle(session, pot, proposal, now=now)


def my_vote(session: Session, proposal: Proposal, user_id: int, ballot_key: bytes) -> Vote | None:
    key = voter_key(ballot_key, proposal.id, user_id)
    return session.scalars(
        select(Vote).where(Vote.proposal_id == proposal.id, Vote.voter_key == key)
    ).one_or_none()


def open_votes(session: Session, proposal: Proposal) -> list[Vote]:
    """Who voted how, for an open ballot (a secret ballot's rows name nobody)."""
    return list(
        session.scalars(
            select(Vote)
            .where(Vote.proposal_id == proposal.id, Vote.voter_id.is_not(None))
            .order_by(Vote.cast_at, Vote.id)
        )
    )


def _check_choice(choice: object) -> str:
    if choice not in ("approve", "object", "abstain"):
        raise InvalidInput(f"a vote is 'approve', 'object' or 'abstain', not {choice!r:.40}")
    return str(choice)


def _check_reason(reason: object) -> str | None:
    if reason is None:
        return None
    if not isinstance(reason, str):
        raise InvalidInput("a reason must be text")
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"a reason is at most {MAX_REASON} characters; this is {len(reason)}")
    return reason.strip() or None
