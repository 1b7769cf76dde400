"""A pot's participatory-budgeting rounds for anyone to read: the list, and each round with
its projects and, once counted, its result explained project by project.

Only what the API publishes is shown (``ledger.rounds.reading`` and the stored explanation):
tallies and aggregate payments, never who approved what. Approval counts appear once the round
is counted, so that a running tally does not sway the votes still to come. A round whose
voting has closed is counted (and funded, when due) on first read, as the API does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Blueprint, render_template, url_for
from sqlalchemy.orm import Session
from werkzeug.routing import BuildError

from app.extensions import database
from ledger import pots as ledger_pots
from ledger.models import Pot
from ledger.pb.rounds import Phase, phase_at
from ledger.rounds import reading, services, settlement
from ledger.rounds.errors import RoundNotFound
from ledger.rounds.models import Kind, Review, Round, RoundResult
from ledger.timestamps import utcnow

blp = Blueprint("rounds", __name__)

RULE_NAMES = {
    "greedy": "Greedy: the most approved projects first, while they fit",
    "mes": "Method of Equal Shares",
    "mes_cardinality": "Method of Equal Shares (each project counts the same)",
    "mes_add1": "Method of Equal Shares, using as much of the budget as it can",
    "mes_add1_greedy": "Method of Equal Shares, the rest filled by approvals",
}


@dataclass(frozen=True)
class ProjectRow:
    """One project as the round page shows it."""

    id: int
    title: str
    summary: str
    payee: str
    cost: int
    minimum: int | None
    review: str
    review_reason: str | None
    approvals: int | None  # None until counted (approval rounds)
    pledged: int | None  # co-funding rounds, once counted
    won: bool | None  # None until counted
    order: int | None
    amount: int | None  # what it received
    reason: str | None  # the explanation in words
    proposal_url: str | None


@blp.get("/pots/<slug>/rounds")
def listing(slug: str) -> str:
    now = utcnow()
    with database().read() as session:
        pot = ledger_pots.get_pot(session, slug)
        items = [
            reading.describe_round(session, pot, r, now=now)
            for r in services.list_rounds(session, pot)
        ]
        summary = ledger_pots.summarise(session, pot)
    return render_template(
        "rounds/list.html",
        pot=summary,
        items=list(reversed(items)),  # newest first
        rule_names=RULE_NAMES,
    )


@blp.get("/pots/<slug>/rounds/<int:round_id>")
def detail(slug: str, round_id: int) -> str:
    now = utcnow()
    _count_if_due(slug, round_id, now)
    with database().read() as session:
        pot, round_ = _round_of(session, slug, round_id)
        described = reading.describe_round(session, pot, round_, now=now)
        result = settlement.stored_result(session, round_)
        rows = _rows(session, pot, round_, result)
        summary = ledger_pots.summarise(session, pot)
        explanation = json.loads(result.explanation_json) if result else None
    spent = result.spent if result else None
    return render_template(
        "rounds/detail.html",
        pot=summary,
        round=described,
        phase=Phase(described["phase"]),
        rule_name=RULE_NAMES.get(described["rule"] or "", "Co-funding"),
        cofunding=described["kind"] == Kind.COFUNDING,
        rows=rows,
        counted=result is not None,
        voters=result.voters if result else None,
        summary_text=explanation["summary"] if explanation else None,
        spent=spent,
        unspent=None if spent is None else round_.budget - spent,
    )


def _round_of(session: Session, slug: str, round_id: int) -> tuple[Pot, Round]:
    pot = ledger_pots.get_pot(session, slug)
    round_ = services.get_round(session, round_id)
    if round_.pot_id != pot.id:
        raise RoundNotFound(f"{slug} has no round {round_id}")
    return pot, round_


def _count_if_due(slug: str, round_id: int, now: datetime) -> None:
    """Count a round whose voting has closed (and fund it once its date has come)."""
    with database().read() as session:
        _, round_ = _round_of(session, slug, round_id)
        phase = phase_at(services.schedule_of(round_), now)
        if phase not in (Phase.RESULTS, Phase.FUNDED):
            return
        counted = settlement.stored_result(session, round_) is not None
        if counted and (round_.funded or phase is Phase.RESULTS):
            return
    with database().write() as session:
        settlement.advance(session, slug, now=now)


def _rows(
    session: Session, pot: Pot, round_: Round, result: RoundResult | None
) -> list[ProjectRow]:
    """Projects in the explanation's order once counted (winners in the order chosen, then
    the rest), else in the order proposed."""
    projects = services.projects_of(session, round_)
    explained: dict[str, dict[str, Any]] = {}
    awards: dict[int, int] = {}
    if result is not None:
        for item in json.loads(result.explanation_json)["projects"]:
            explained[str(item["project_id"])] = item
        awards = dict(settlement.awards_of(result))
        order = list(explained)
        projects.sort(key=lambda p: order.index(str(p.id)) if str(p.id) in explained else 1e9)
    cofunding = round_.kind == Kind.COFUNDING
    rows = []
    for project in projects:
        item = explained.get(str(project.id))
        reason = item["reason"] if item else None
        if result is not None and reason is None and project.review != Review.ELIGIBLE:
            reason = "Not funded: it was not found eligible in review."
        rows.append(
            ProjectRow(
                id=project.id,
                title=project.title,
                summary=project.summary,
                payee=project.payee_name,
                cost=project.cost,
                minimum=project.minimum,
                review=project.review,
                review_reason=project.review_reason,
                approvals=(item.get("approvals", 0) if item else 0)
                if result is not None and not cofunding
                else None,
                pledged=(item.get("pledged", 0) if item else 0)
                if result is not None and cofunding
                else None,
                won=(project.id in awards) if result is not None else None,
                order=item.get("order") if item else None,
                amount=awards.get(project.id),
                reason=reason,
                proposal_url=_proposal_url(pot.slug, project.proposal_id),
            )
        )
    return rows


def _proposal_url(slug: str, proposal_id: int | None) -> str | None:
    if proposal_id is None:
        return None
    try:
        return url_for("web.proposals.detail", slug=slug, proposal_id=proposal_id)
    except BuildError:  # the proposal pages are not part of this site
        return None
