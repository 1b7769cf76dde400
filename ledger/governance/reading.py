"""Proposals as people read them: where each stands now, its tally, money and timeline.

One description serves the API and the pages alike, as plain JSON-able dicts. Ballot secrecy
is decided here, once: under a secret ballot nobody's vote is listed (only the reader's own,
to the reader).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger import audit
from ledger.chain import format_timestamp, parse_json_object
from ledger.governance import funding, voting
from ledger.governance.models import CoProposer, Proposal, Status, Vote
from ledger.governance.rulebook import rules_version
from ledger.governance.rules import Ballot
from ledger.models import Pot
from ledger.people.models import User


def summary(
    session: Session, pot: Pot, proposal: Proposal, *, now: datetime, render: Any
) -> dict[str, Any]:
    """The proposal with where it stands at ``now`` (``render`` turns Markdown into safe HTML)."""
    co_proposers = _co_proposers(session, proposal)
    names = _names(session, [proposal.proposer_id, *co_proposers])
    counted = voting.tally(session, proposal)
    rules = None
    if proposal.rules_version is not None:
        rules = rules_version(session, pot, proposal.rules_version)
    pending = voting.current_decision(session, pot, proposal, now=now, rules=rules, counted=counted)
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
        "funding": _funding(session, pot, proposal),
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


def waiting_position(session: Session, proposal: Proposal) -> int | None:
    if proposal.status != Status.APPROVED or proposal.approval_seq is None:
        return None
    ahead = session.scalar(
        select(func.count())
        .select_from(Proposal)
        .where(
            Proposal.pot_id == proposal.pot_id,
            Proposal.status == Status.APPROVED,
            Proposal.approval_seq < proposal.approval_seq,
        )
    )
    return (ahead or 0) + 1


def _funding(session: Session, pot: Pot, proposal: Proposal) -> dict[str, Any]:
    holding = proposal.status in funding.HOLDING
    return {
        "committed": _money(proposal.amount - proposal.paid_amount if holding else 0, pot),
        "paid": _money(proposal.paid_amount, pot),
        "entry_seq": proposal.funding_entry_seq,
        "funded_at": _time(proposal.funded_at),
        "waiting_position": waiting_position(session, proposal),
    }


def _vote(vote: Vote, names: dict[int, str]) -> dict[str, Any]:
    return {
        "voter": _person(vote.voter_id, names) if vote.voter_id else None,
        "choice": vote.choice,
        "reason": vote.reason,
        "cast_at": _time(vote.cast_at),
        "changed_at": _time(vote.changed_at),
    }


def _co_proposers(session: Session, proposal: Proposal) -> list[int]:
    return list(
        session.scalars(
            select(CoProposer.user_id)
            .where(CoProposer.proposal_id == proposal.id)
            .order_by(CoProposer.user_id)
        )
    )


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
