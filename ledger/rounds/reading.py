"""Rounds as people read them: phase by the clock, projects with public tallies, results.

Plain JSON-able dicts for the API and the pages. Nothing here names a voter: tallies are
counts, and a member is shown only their own ballot (by the caller, through
:func:`ledger.rounds.services.my_ballot`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.chain import format_timestamp
from ledger.models import Pot
from ledger.people.models import User
from ledger.rounds import services
from ledger.rounds.models import Kind, Round, RoundProject, RoundResult
from ledger.rounds.settlement import awards_of


def describe_round(session: Session, pot: Pot, round_: Round, *, now: datetime) -> dict[str, Any]:
    return describe_rounds(session, pot, [round_], now=now)[0]


def describe_rounds(
    session: Session, pot: Pot, rounds: Sequence[Round], *, now: datetime
) -> list[dict[str, Any]]:
    """:func:`describe_round` of each of the pot's ``rounds``, in order, for a fixed number of
    queries however many there are."""
    assert all(r.pot_id == pot.id for r in rounds)
    if not rounds:
        return []
    counted = _counted(session, [r.id for r in rounds])
    ballots = services.ballots_cast_in(session, rounds)
    members = services.electorates(session, [r for r in rounds if r.kind == Kind.COFUNDING])
    return [
        _round(
            session,
            pot,
            r,
            now=now,
            counted=r.id in counted,
            ballots=ballots[r.id],
            members=members.get(r.id),
        )
        for r in rounds
    ]


def _round(
    session: Session,
    pot: Pot,
    round_: Round,
    *,
    now: datetime,
    counted: bool,
    ballots: int,
    members: int | None,
) -> dict[str, Any]:
    share = None
    if round_.kind == Kind.COFUNDING:  # given the electorate, the share reads nothing more
        share = _money(services.cofunding_share(session, round_, electorate_size=members), pot)
    return {
        "id": round_.id,
        "pot": pot.slug,
        "title": round_.title,
        "description": round_.description,
        "kind": round_.kind,
        "rule": round_.rule,
        "budget": _money(round_.budget, pot),
        "phase": services.phase_of(round_, now).value,
        "schedule": {
            "proposals_open": _time(round_.proposals_open),
            "review_starts": _time(round_.review_starts),
            "voting_starts": _time(round_.voting_starts),
            "results_at": _time(round_.results_at),
            "funded_at": _time(round_.funded_at),
        },
        "ballot_limits": {
            "min_projects": round_.min_projects,
            "max_projects": round_.max_projects,
            "max_cost": None if round_.max_cost is None else _money(round_.max_cost, pot),
        },
        "share": share,
        "ballots": ballots,
        "counted": counted,
        "funded": round_.funded,
        "budget_entry_seq": round_.commitment_entry_seq,
        "settlement_entry_seq": round_.settlement_entry_seq,
        "created_at": _time(round_.created_at),
    }


def _counted(session: Session, round_ids: list[int]) -> set[int]:
    """The rounds whose result is stored."""
    return set(
        session.scalars(select(RoundResult.round_id).where(RoundResult.round_id.in_(round_ids)))
    )


def describe_projects(session: Session, pot: Pot, round_: Round) -> list[dict[str, Any]]:
    projects = services.projects_of(session, round_)
    approvals = services.approvals(session, round_)
    pledged = services.pledged(session, round_)
    names = _names(session, {p.proposer_id for p in projects})
    return [_project(p, pot, round_, approvals, pledged, names) for p in projects]


def describe_project(
    session: Session, pot: Pot, round_: Round, project: RoundProject
) -> dict[str, Any]:
    names = _names(session, {project.proposer_id})
    return _project(
        project,
        pot,
        round_,
        services.approvals(session, round_),
        services.pledged(session, round_),
        names,
    )


def describe_result(
    session: Session, pot: Pot, round_: Round, result: RoundResult
) -> dict[str, Any]:
    """The published result: winners, money, and the aggregate explanation per project."""
    explanation = json.loads(result.explanation_json)
    projects = {p.id: p for p in services.projects_of(session, round_)}
    return {
        "round": round_.id,
        "kind": round_.kind,
        "rule": round_.rule,
        "counted_at": _time(result.counted_at),
        "voters": result.voters,
        "budget": _money(round_.budget, pot),
        "spent": _money(result.spent, pot),
        "unspent": _money(round_.budget - result.spent, pot),
        "winners": [
            {
                "project": project_id,
                "title": projects[project_id].title,
                "amount": _money(amount, pot),
                "proposal": projects[project_id].proposal_id,
            }
            for project_id, amount in awards_of(result)
        ],
        "funded": round_.funded,
        "summary": explanation["summary"],
        "explanation": explanation,
    }


def _project(
    project: RoundProject,
    pot: Pot,
    round_: Round,
    approvals: dict[int, int],
    pledged: dict[int, tuple[int, int]],
    names: dict[int, str],
) -> dict[str, Any]:
    cofunding = round_.kind == Kind.COFUNDING
    money, pledgers = pledged.get(project.id, (0, 0))
    return {
        "id": project.id,
        "round": round_.id,
        "title": project.title,
        "summary": project.summary,
        "cost": None if cofunding else _money(project.cost, pot),
        "minimum": _money(project.minimum, pot) if cofunding and project.minimum else None,
        "maximum": _money(project.cost, pot) if cofunding else None,
        "payee": {"name": project.payee_name, "opencollective": project.payee_oc_slug},
        "proposer": {"id": project.proposer_id, "name": names.get(project.proposer_id, "")},
        "created_at": _time(project.created_at),
        "review": project.review,
        "review_reason": project.review_reason,
        "approvals": None if cofunding else approvals.get(project.id, 0),
        "pledged": _money(money, pot) if cofunding else None,
        "pledgers": pledgers if cofunding else None,
        "proposal": project.proposal_id,
    }


def _names(session: Session, user_ids: set[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    rows = session.execute(select(User.id, User.display_name).where(User.id.in_(user_ids)))
    return {user_id: name for user_id, name in rows}


def _money(amount: int, pot: Pot) -> dict[str, Any]:
    return {"amount": amount, "currency": pot.currency}


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else format_timestamp(moment)
