"""Proposals as people read them: where each stands now, its tally, money and timeline.

One description serves the API and the pages alike, as plain JSON-able dicts. Ballot secrecy
is decided here, once: under a secret ballot nobody's vote is listed (only the reader's own,
to the reader).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, aliased

from ledger import audit
from ledger.chain import format_timestamp, parse_json_object
from ledger.governance import funding, rulebook, voting
from ledger.governance.decisions import Tally
from ledger.governance.models import CoProposer, Proposal, Status, Vote
from ledger.governance.rules import Ballot, DecisionRules
from ledger.models import Pot
from ledger.people.models import User


@dataclass(frozen=True)
class _Known:
    """What the rows of a list need besides the proposals themselves, each kind read in one
    query for all of them (by proposal id, except names by user id)."""

    co_proposers: dict[int, list[int]]
    names: dict[int, str]
    tallies: dict[int, Tally]
    rules: dict[int, DecisionRules]  # opened proposals: the version they are decided under
    voters: dict[int, voting.Electorate]  # open proposals
    waiting: dict[int, int]  # approved proposals: their place in the queue for funds


def summary(
    session: Session, pot: Pot, proposal: Proposal, *, now: datetime, render: Any
) -> dict[str, Any]:
    """The proposal with where it stands at ``now`` (``render`` turns Markdown into safe HTML)."""
    return summaries(session, pot, [proposal], now=now, render=render)[0]


def summaries(
    session: Session, pot: Pot, proposals: Sequence[Proposal], *, now: datetime, render: Any
) -> list[dict[str, Any]]:
    """:func:`summary` of each of the pot's ``proposals``, in order, for a fixed number of
    queries however many there are: a list must not read each row's facts one by one."""
    assert all(p.pot_id == pot.id for p in proposals)
    if not proposals:
        return []
    known = _read_known(session, pot, proposals)
    return [_summary(session, pot, p, known, now=now, render=render) for p in proposals]


def _read_known(session: Session, pot: Pot, proposals: Sequence[Proposal]) -> _Known:
    ids = [p.id for p in proposals]
    co_proposers = _co_proposers(session, ids)
    people = [p.proposer_id for p in proposals] + [u for co in co_proposers.values() for u in co]
    versions = {p.rules_version for p in proposals if p.rules_version is not None}
    by_version = rulebook.rules_versions(session, pot, versions)
    rules = {p.id: by_version[p.rules_version] for p in proposals if p.rules_version is not None}
    still_open = [p for p in proposals if p.status == Status.OPEN]
    return _Known(
        co_proposers=co_proposers,
        names=_names(session, people),
        tallies=voting.tallies(session, ids),
        rules=rules,
        voters=voting.electorates(session, still_open, rules),
        waiting=waiting_positions(session, proposals),
    )


def _summary(
    session: Session,
    pot: Pot,
    proposal: Proposal,
    known: _Known,
    *,
    now: datetime,
    render: Any,
) -> dict[str, Any]:
    co_proposers = known.co_proposers[proposal.id]
    names = known.names
    counted = known.tallies[proposal.id]
    rules = known.rules.get(proposal.id)
    # Given rules, tally and electorate, current_decision reads nothing more.
    pending = voting.current_decision(
        session,
        pot,
        proposal,
        now=now,
        rules=rules,
        counted=counted,
        voters=known.voters.get(proposal.id),
    )
    decided = pending is not None and pending.is_final
    decision = (
        pending.to_dict()
        if decided and pending
        else (parse_json_object(proposal.decision_json) if proposal.decision_json else None)
    )
    ballot = None if rules is None else rules.ballot.value
    return {
        "id": proposal.id,
        "pot": pot.slug,
        "title": proposal.title,
        "summary": proposal.summary,
        "summary_html": render(proposal.summary),
        "amount": _money(proposal.amount, pot),
        "payee": {"name": proposal.payee_name, "opencollective": proposal.payee_oc_slug},
        "category": proposal.category,
        "status": pending.outcome.value if decided and pending else proposal.status,
        "decision_applied": not decided,
        "proposer": _person(proposal.proposer_id, names),
        "co_proposers": [_person(u, names) for u in co_proposers],
        "created_at": _time(proposal.created_at),
        "opened_at": _time(proposal.opened_at),
        "closes_at": _time(proposal.closes_at),
        "decided_at": decision["decided_at"] if decision else None,
        "rules_version": proposal.rules_version,
        "ballot": ballot,
        "tally": counted.to_dict(),
        "decision": decision,
        "funding": _funding(pot, proposal, known.waiting.get(proposal.id)),
    }


def detail(
    session: Session,
    pot: Pot,
    proposal: Proposal,
    *,
    now: datetime,
    render: Any,
    viewer_id: int | None,
    ballot_key: bytes,
) -> dict[str, Any]:
    described = summary(session, pot, proposal, now=now, render=render)
    secret = described["ballot"] == Ballot.SECRET.value
    events = audit.list_events(session, pot, proposal_id=proposal.id, limit=10_000)
    actor_ids = [int(e.actor[5:]) for e in events if e.actor.startswith("user:")]
    names = _names(session, actor_ids)
    described["timeline"] = [
        {
            "seq": e.seq,
            "at": e.recorded_at,
            "kind": e.kind,
            "actor": e.actor,
            "actor_name": names.get(int(e.actor[5:])) if e.actor.startswith("user:") else None,
            "data": audit.event_data(e),
            "hash": e.hash,
        }
        for e in events
    ]
    if secret:
        described["votes"] = None
    else:
        votes = voting.open_votes(session, proposal)
        voter_names = _names(session, [v.voter_id for v in votes if v.voter_id])
        described["votes"] = [_vote(v, voter_names) for v in votes]
    mine = voting.my_vote(session, proposal, viewer_id, ballot_key) if viewer_id else None
    described["my_vote"] = None
    if mine is not None and viewer_id is not None:
        viewer = _names(session, [viewer_id])
        described["my_vote"] = _vote(mine, viewer)
        if secret:  # the row names nobody; the reader is the voter
            described["my_vote"]["voter"] = _person(viewer_id, viewer)
    return described


def waiting_positions(session: Session, proposals: Sequence[Proposal]) -> dict[int, int]:
    """Each approved proposal's place in its pot's queue for funds (1: funded next), by id,
    in one query; proposals not waiting are left out."""
    waiting = [
        p.id for p in proposals if p.status == Status.APPROVED and p.approval_seq is not None
    ]
    if not waiting:
        return {}
    ahead = aliased(Proposal)
    rows = session.execute(
        select(Proposal.id, func.count(ahead.id))
        .outerjoin(
            ahead,
            and_(
                ahead.pot_id == Proposal.pot_id,
                ahead.status == Status.APPROVED,
                ahead.approval_seq < Proposal.approval_seq,
            ),
        )
        .where(Proposal.id.in_(waiting))
        .group_by(Proposal.id)
    )
    return {proposal_id: ahead_of_it + 1 for proposal_id, ahead_of_it in rows}


def _funding(pot: Pot, proposal: Proposal, waiting_position: int | None) -> dict[str, Any]:
    holding = proposal.status in funding.HOLDING
    return {
        "committed": _money(proposal.amount - proposal.paid_amount if holding else 0, pot),
        "paid": _money(proposal.paid_amount, pot),
        "entry_seq": proposal.funding_entry_seq,
        "funded_at": _time(proposal.funded_at),
        "waiting_position": waiting_position,
    }


def _vote(vote: Vote, names: dict[int, str]) -> dict[str, Any]:
    return {
        "voter": _person(vote.voter_id, names) if vote.voter_id else None,
        "choice": vote.choice,
        "reason": vote.reason,
        "cast_at": _time(vote.cast_at),
        "changed_at": _time(vote.changed_at),
    }


def _co_proposers(session: Session, proposal_ids: Sequence[int]) -> dict[int, list[int]]:
    found: dict[int, list[int]] = {pid: [] for pid in proposal_ids}
    rows = session.execute(
        select(CoProposer.proposal_id, CoProposer.user_id)
        .where(CoProposer.proposal_id.in_(proposal_ids))
        .order_by(CoProposer.proposal_id, CoProposer.user_id)
    )
    for proposal_id, user_id in rows:
        found[proposal_id].append(user_id)
    return found


def _names(session: Session, user_ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {u for u in user_ids if u is not None}
    if not wanted:
        return {}
    rows = session.execute(select(User.id, User.display_name).where(User.id.in_(wanted)))
    return {user_id: name for user_id, name in rows}


def _person(user_id: int | None, names: dict[int, str]) -> dict[str, Any]:
    assert user_id is not None
    return {"id": user_id, "name": names.get(user_id, f"user {user_id}")}


def _money(amount: int, pot: Pot) -> dict[str, Any]:
    return {"amount": amount, "currency": pot.currency}


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else format_timestamp(moment)
