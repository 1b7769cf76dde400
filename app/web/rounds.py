"""A pot's participatory-budgeting rounds for anyone to read: the list, and each round with
its projects and, once counted, its result explained project by project; while a round votes,
a signed-in member casts, changes or withdraws their own ballot (or pledges) on its page.

Only what the API publishes is shown (``ledger.rounds.reading`` and the stored explanation):
tallies and aggregate payments, never who approved what. Approval counts appear once the round
is counted, so that a running tally does not sway the votes still to come. A round whose
voting has closed is counted (and funded, when due) on first read, as the API does.

Voting calls the services ``app.api.rounds`` calls, with the same ballot key, in one unit of
work each; a refusal (the round's limits, an ineligible project, voting closed, not allowed to
vote) is shown next to the form with its status code, keeping what was ticked or typed. The
page shows a member their own ballot only: secret ballot.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from app.api.rounds import ballot_key
from app.extensions import database
from app.problems import status_for
from app.web.forms import ActionForm, sentence
from app.web.round_forms import BallotForm, PledgeForm
from app.web.signin import SignedIn, login_required, signed_in
from ledger import pots as ledger_pots
from ledger.errors import LedgerError
from ledger.models import Pot
from ledger.money import to_decimal_string
from ledger.pb.rounds import Phase, phase_at
from ledger.people.membership import membership
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
        items = reading.describe_rounds(session, pot, services.list_rounds(session, pot), now=now)
        summary = ledger_pots.summarise(session, pot)
    return render_template(
        "rounds/list.html",
        pot=summary,
        items=list(reversed(items)),  # newest first
        rule_names=RULE_NAMES,
    )


@dataclass(frozen=True)
class Voter:
    """The signed-in person's part in a round that is voting: their own ballot or pledges,
    never anyone else's."""

    member: bool
    may_vote: bool  # a member who joined before voting opened
    approved: tuple[int, ...]  # the projects on their ballot
    saved_at: datetime | None  # when their ballot was last saved; None without one
    pledges: dict[int, int]  # co-funding rounds: project id -> minor units


@blp.get("/pots/<slug>/rounds/<int:round_id>")
def detail(slug: str, round_id: int) -> tuple[str, int]:
    _count_if_due(slug, round_id, utcnow())
    return render_detail(slug, round_id)


def render_detail(
    slug: str,
    round_id: int,
    *,
    ballot_form: BallotForm | None = None,
    pledge_form: PledgeForm | None = None,
    problem: str | None = None,
    status: int = 200,
) -> tuple[str, int]:
    """The round page; a refused ballot or pledge shows it again with the form as sent and
    ``problem`` next to it."""
    now = utcnow()
    user = signed_in()
    with database().read() as session:
        pot, round_ = _round_of(session, slug, round_id)
        described = reading.describe_round(session, pot, round_, now=now)
        result = settlement.stored_result(session, round_)
        rows = _rows(session, pot, round_, result)
        summary = ledger_pots.summarise(session, pot)
        explanation = json.loads(result.explanation_json) if result else None
        phase = Phase(described["phase"])
        voter = _voter(session, pot, round_, user) if user and phase is Phase.VOTING else None
    spent = result.spent if result else None
    eligible = [row for row in rows if row.review == Review.ELIGIBLE]
    if ballot_form is None:
        ballot_form = BallotForm(formdata=None)
        ballot_form.projects.data = list(voter.approved) if voter else []
    ballot_form.projects.choices = [(row.id, row.title) for row in eligible]
    if pledge_form is None:
        pledge_form = PledgeForm(formdata=None)
        mine = voter.pledges if voter else {}
        for row in eligible:
            amount = mine.get(row.id)
            pledge_form.pledges.append_entry(
                {
                    "project": row.id,
                    "amount": to_decimal_string(amount, pot.currency) if amount else "",
                }
            )
    return render_template(
        "rounds/detail.html",
        pot=summary,
        round=described,
        phase=phase,
        rule_name=RULE_NAMES.get(described["rule"] or "", "Co-funding"),
        cofunding=described["kind"] == Kind.COFUNDING,
        rows=rows,
        projects_by_id={row.id: row for row in rows},
        counted=result is not None,
        voters=result.voters if result else None,
        summary_text=explanation["summary"] if explanation else None,
        spent=spent,
        unspent=None if spent is None else round_.budget - spent,
        voter=voter,
        ballot_form=ballot_form,
        pledge_form=pledge_form,
        withdraw_form=ActionForm(formdata=None),
        problem=problem,
    ), status


@blp.post("/pots/<slug>/rounds/<int:round_id>/ballot")
@login_required
def cast(slug: str, round_id: int) -> Response | tuple[str, int]:
    """Cast or change the signed-in member's approval ballot."""
    user = _user()
    form = BallotForm()
    if not form.validate_on_submit():
        return render_detail(slug, round_id, ballot_form=form, status=400)
    try:
        with database().write() as session:
            _round_of(session, slug, round_id)
            services.cast_ballot(
                session,
                round_id,
                form.projects.data or [],
                user_id=user.id,
                ballot_key=ballot_key(),
                now=utcnow(),
            )
    except LedgerError as exc:
        return _refused(slug, round_id, exc, ballot_form=form)
    flash("Your ballot is saved. You can change it until voting closes.")
    return _back_to_ballot(slug, round_id)


@blp.post("/pots/<slug>/rounds/<int:round_id>/pledges")
@login_required
def pledge(slug: str, round_id: int) -> Response | tuple[str, int]:
    """Replace the signed-in member's pledges in a co-funding round."""
    user = _user()
    form = PledgeForm()
    with database().read() as session:
        form.currency = ledger_pots.get_pot(session, slug).currency
    if not form.validate_on_submit():
        return render_detail(slug, round_id, pledge_form=form, status=400)
    try:
        with database().write() as session:
            _round_of(session, slug, round_id)
            services.set_pledges(
                session,
                round_id,
                form.minor_pledges(),
                user_id=user.id,
                ballot_key=ballot_key(),
                now=utcnow(),
            )
    except LedgerError as exc:
        return _refused(slug, round_id, exc, pledge_form=form)
    flash("Your pledges are saved. You can change them until voting closes.")
    return _back_to_ballot(slug, round_id)


@blp.post("/pots/<slug>/rounds/<int:round_id>/ballot/withdraw")
@login_required
def withdraw(slug: str, round_id: int) -> Response | tuple[str, int]:
    """Take back the signed-in member's ballot (or pledges)."""
    user = _user()
    if not ActionForm().validate_on_submit():
        return render_detail(slug, round_id, problem="Please try again.", status=400)
    try:
        with database().write() as session:
            _, round_ = _round_of(session, slug, round_id)
            cofunding = round_.kind == Kind.COFUNDING
            had_one = services.withdraw_ballot(
                session, round_id, user_id=user.id, ballot_key=ballot_key(), now=utcnow()
            )
    except LedgerError as exc:
        return _refused(slug, round_id, exc)
    what = "pledges" if cofunding else "ballot"
    flash(
        f"Your {what} {'are' if cofunding else 'is'} withdrawn."
        if had_one
        else f"You had no {what} to withdraw."
    )
    return _back_to_ballot(slug, round_id)


def _user() -> SignedIn:
    user = signed_in()
    assert user is not None  # @login_required
    return user


def _refused(
    slug: str,
    round_id: int,
    exc: LedgerError,
    *,
    ballot_form: BallotForm | None = None,
    pledge_form: PledgeForm | None = None,
) -> tuple[str, int]:
    return render_detail(
        slug,
        round_id,
        ballot_form=ballot_form,
        pledge_form=pledge_form,
        problem=f"{exc.title}: {sentence(exc.detail)}",
        status=status_for(exc),
    )


def _back_to_ballot(slug: str, round_id: int) -> Response:
    return redirect(url_for("web.rounds.detail", slug=slug, round_id=round_id) + "#ballot")


def _voter(session: Session, pot: Pot, round_: Round, user: SignedIn) -> Voter:
    member = membership(session, pot.id, user.id)
    if member is None:
        return Voter(member=False, may_vote=False, approved=(), saved_at=None, pledges={})
    key = ballot_key()
    if round_.kind == Kind.COFUNDING:
        ballot = None
        pledges = services.my_pledges(session, round_, user.id, key)
    else:
        ballot = services.my_ballot(session, round_, user.id, key)
        pledges = {}
    return Voter(
        member=True,
        may_vote=member.joined_at < round_.voting_starts,
        approved=tuple(services.approved_by(session, ballot)) if ballot else (),
        saved_at=ballot.changed_at if ballot else None,
        pledges=pledges,
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
    return url_for("web.proposals.detail", slug=slug, proposal_id=proposal_id)
