"""What members do with proposals on the pages: submit one (open for votes at once, or saved as
a draft), work on a draft (edit it, add and remove co-proposers, open it for votes), vote (and
change the vote), withdraw.

Each view checks the form, calls one service of ``ledger.governance.proposals`` in one unit of
work (as ``app.api.proposals`` does) and redirects. A refusal from the domain (voting closed,
not allowed to vote, too many open proposals, ...) is shown on the page with its status code,
and everything typed stays in the form. Every view finds the proposal through
``app.web.proposals.find``, so someone else's draft is not found (404), whatever is posted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, flash, redirect, render_template, url_for
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from app.api.proposals import ballot_key
from app.extensions import database
from app.problems import status_for
from app.web.forms import (
    ActionForm,
    CoProposerForm,
    NewProposalForm,
    ProposalForm,
    VoteForm,
    sentence,
)
from app.web.proposals import PotView, categories, describe_all, find, render_detail
from app.web.signin import SignedIn, login_required, require_pot_role, signed_in
from ledger import pots as ledger_pots
from ledger.errors import InvalidInput, LedgerError
from ledger.governance import proposals
from ledger.governance.models import Proposal, Status
from ledger.models import Pot
from ledger.money import to_decimal_string
from ledger.people import membership
from ledger.timestamps import utcnow

blp = Blueprint("proposing", __name__)
T = TypeVar("T")

# The service names the field its InvalidInput is about at the start of the message.
_FIELD_PREFIXES = (
    ("title:", "title"),
    ("summary:", "summary"),
    ("amount:", "amount"),
    ("the amount", "amount"),
    ("payee name:", "payee_name"),
    ("payee open collective slug:", "payee_oc_slug"),
    ("category:", "category"),
)


@blp.route("/pots/<slug>/proposals/new", methods=["GET", "POST"])
@login_required
def new(slug: str) -> Response | tuple[str, int]:
    user = require_pot_role(slug)
    with database().read() as session:
        pot = ledger_pots.get_pot(session, slug)
        view = PotView.of(pot)
        known_categories = categories(session, pot)
    form = NewProposalForm()
    form.currency = view.currency
    problem = None
    status = 200
    if form.validate_on_submit():
        as_draft = bool(form.save_draft.data)
        try:
            with database().write() as session:
                proposal = proposals.submit(
                    session,
                    slug,
                    _terms(form),
                    user_id=user.id,
                    open_now=not as_draft,
                    now=utcnow(),
                )
                proposal_id = proposal.id
        except LedgerError as exc:
            problem = _place_error(form, exc)
            status = status_for(exc)
        else:
            if as_draft:
                flash("Your draft is saved. Only you and the co-proposers you add can see it.")
                return redirect(url_for(".draft", slug=slug, proposal_id=proposal_id))
            flash("Your proposal is open for votes.")
            return redirect(url_for("web.proposals.detail", slug=slug, proposal_id=proposal_id))
    elif form.is_submitted():
        status = 400
    return render_template(
        "proposals/new.html",
        pot=view,
        form=form,
        problem=problem,
        known_categories=known_categories,
    ), status


def _terms(form: ProposalForm) -> proposals.Draft:
    assert form.minor_amount is not None
    return proposals.Draft(
        title=form.title.data or "",
        summary=form.summary.data or "",
        amount=form.minor_amount,
        payee_name=form.payee_name.data or "",
        payee_oc_slug=form.payee_oc_slug.data or None,
        category=(form.category.data or "").strip() or None,
    )


def _place_error(form: ProposalForm, exc: LedgerError) -> str | None:
    """Put a refusal next to the field it is about; anything else is for the whole form."""
    detail = exc.detail
    if isinstance(exc, InvalidInput):
        lowered = detail.lower()
        for prefix, name in _FIELD_PREFIXES:
            if lowered.startswith(prefix):
                text = detail[len(prefix) :].strip() if prefix.endswith(":") else detail
                form[name].errors = [sentence(text)]
                return None
    return sentence(detail)


# -- drafts ----------------------------------------------------------------------------------


@blp.get("/pots/<slug>/proposals/<int:proposal_id>/draft")
@login_required
def draft(slug: str, proposal_id: int) -> Response | tuple[str, int]:
    return render_draft(slug, proposal_id)


def render_draft(
    slug: str,
    proposal_id: int,
    *,
    co_form: CoProposerForm | None = None,
    problem: str | None = None,
    status: int = 200,
) -> Response | tuple[str, int]:
    """A draft's page, for its proposer and co-proposers; once it is no longer a draft, the
    proposal's own page."""
    user = _user()
    with database().read() as session:
        pot, proposal = find(session, slug, proposal_id, viewer_id=user.id)
        if proposal.status != Status.DRAFT:
            return redirect(url_for("web.proposals.detail", slug=slug, proposal_id=proposal_id))
        [described] = describe_all(session, pot, [proposal])
        owner = proposal.proposer_id == user.id
        candidates = _candidates(session, pot, described) if owner else []
        view = PotView.of(pot)
    co_form = co_form or CoProposerForm(formdata=None)
    co_form.set_candidates(candidates)
    return render_template(
        "proposals/draft.html",
        pot=view,
        p=described,
        owner=owner,
        me=user.id,
        co_form=co_form,
        action_form=ActionForm(formdata=None),
        problem=problem,
    ), status


def _candidates(session: Any, pot: Pot, described: dict[str, Any]) -> list[tuple[int, str]]:
    """The pot's members who could be named as co-proposers: everyone not named yet."""
    named = {described["proposer"]["id"], *(c["id"] for c in described["co_proposers"])}
    members = membership.list_members(session, pot)
    return sorted(
        ((m.user_id, m.display_name) for m in members if m.user_id not in named),
        key=lambda candidate: candidate[1].casefold(),
    )


@blp.route("/pots/<slug>/proposals/<int:proposal_id>/edit", methods=["GET", "POST"])
@login_required
def edit(slug: str, proposal_id: int) -> Response | tuple[str, int]:
    user = _user()
    with database().read() as session:
        pot, proposal = find(session, slug, proposal_id, viewer_id=user.id)
        proposals.check_may_change(proposal, user.id)  # its co-proposers read, never edit
        view = PotView.of(pot)
        known_categories = categories(session, pot)
        form = ProposalForm(data=_typed(proposal, pot))
    form.currency = view.currency
    problem = None
    status = 200
    if form.validate_on_submit():
        try:
            terms = _terms(form)
            _on_proposal(
                slug,
                proposal_id,
                user,
                lambda session: proposals.revise(session, proposal_id, terms, user_id=user.id),
            )
        except LedgerError as exc:
            problem = _place_error(form, exc)
            status = status_for(exc)
        else:
            flash("Your draft is saved.")
            return redirect(url_for(".draft", slug=slug, proposal_id=proposal_id))
    elif form.is_submitted():
        status = 400
    return render_template(
        "proposals/edit.html",
        pot=view,
        proposal_id=proposal_id,
        form=form,
        problem=problem,
        known_categories=known_categories,
    ), status


def _typed(proposal: Proposal, pot: Pot) -> dict[str, str]:
    """The draft as its proposer typed it, to fill the form."""
    return {
        "title": proposal.title,
        "summary": proposal.summary,
        "amount": to_decimal_string(proposal.amount, pot.currency),
        "payee_name": proposal.payee_name,
        "payee_oc_slug": proposal.payee_oc_slug or "",
        "category": proposal.category or "",
    }


@blp.post("/pots/<slug>/proposals/<int:proposal_id>/co-proposers")
@login_required
def add_co_proposer(slug: str, proposal_id: int) -> Response | tuple[str, int]:
    user = _user()
    form = CoProposerForm()
    if not form.validate_on_submit():
        return render_draft(slug, proposal_id, co_form=form, status=400)
    try:
        _on_proposal(
            slug,
            proposal_id,
            user,
            lambda session: proposals.add_co_proposer(
                session, proposal_id, form.member_id, user_id=user.id
            ),
        )
    except LedgerError as exc:
        if not isinstance(exc, InvalidInput):  # not about the member chosen
            return render_draft(slug, proposal_id, problem=_refusal(exc), status=status_for(exc))
        form.member.errors = [sentence(exc.detail.removeprefix("co-proposer: "))]
        return render_draft(slug, proposal_id, co_form=form, status=status_for(exc))
    flash("The co-proposer is added. They can see this draft now.")
    return redirect(url_for(".draft", slug=slug, proposal_id=proposal_id) + "#co-proposers")


@blp.post("/pots/<slug>/proposals/<int:proposal_id>/co-proposers/<int:member_id>/remove")
@login_required
def remove_co_proposer(slug: str, proposal_id: int, member_id: int) -> Response | tuple[str, int]:
    user = _user()
    form = ActionForm()
    if not form.validate_on_submit():
        return render_draft(slug, proposal_id, problem="Please try again.", status=400)
    try:
        _on_proposal(
            slug,
            proposal_id,
            user,
            lambda session: proposals.remove_co_proposer(
                session, proposal_id, member_id, user_id=user.id
            ),
        )
    except LedgerError as exc:
        return _show_refusal(slug, proposal_id, exc)
    if member_id == user.id:  # the draft is no longer theirs to see
        flash("You are no longer a co-proposer of that draft.")
        return redirect(url_for("web.account.me"))
    flash("The co-proposer is removed.")
    return redirect(url_for(".draft", slug=slug, proposal_id=proposal_id) + "#co-proposers")


@blp.post("/pots/<slug>/proposals/<int:proposal_id>/open")
@login_required
def open_for_votes(slug: str, proposal_id: int) -> Response | tuple[str, int]:
    user = _user()
    form = ActionForm()
    if not form.validate_on_submit():
        return render_draft(slug, proposal_id, problem="Please try again.", status=400)
    try:
        _on_proposal(
            slug,
            proposal_id,
            user,
            lambda session: proposals.open_for_votes(
                session, proposal_id, user_id=user.id, now=utcnow()
            ),
        )
    except LedgerError as exc:
        return _show_refusal(slug, proposal_id, exc)
    flash("Your proposal is open for votes.")
    return redirect(url_for("web.proposals.detail", slug=slug, proposal_id=proposal_id))


# -- voting and withdrawing ------------------------------------------------------------------


@blp.post("/pots/<slug>/proposals/<int:proposal_id>/vote")
@login_required
def vote(slug: str, proposal_id: int) -> Response | tuple[str, int]:
    user = _user()
    form = VoteForm()
    if not form.validate_on_submit():
        return render_detail(slug, proposal_id, vote_form=form, status=400)
    try:
        _on_proposal(
            slug,
            proposal_id,
            user,
            lambda session: proposals.vote(
                session,
                proposal_id,
                user_id=user.id,
                choice=form.choice.data or "",
                reason=form.reason.data or None,
                ballot_key=ballot_key(),
                now=utcnow(),
            ),
        )
    except LedgerError as exc:
        return render_detail(
            slug, proposal_id, vote_form=form, problem=_refusal(exc), status=status_for(exc)
        )
    flash("Your vote is recorded.")
    return redirect(url_for("web.proposals.detail", slug=slug, proposal_id=proposal_id) + "#vote")


@blp.post("/pots/<slug>/proposals/<int:proposal_id>/withdraw")
@login_required
def withdraw(slug: str, proposal_id: int) -> Response | tuple[str, int]:
    user = _user()
    form = ActionForm()
    if not form.validate_on_submit():
        return render_detail(slug, proposal_id, problem="Please try again.", status=400)
    try:
        was_draft = _on_proposal(
            slug,
            proposal_id,
            user,
            lambda session: (
                not proposals.is_public(
                    proposals.withdraw(session, proposal_id, user_id=user.id, now=utcnow())
                )
            ),
        )
    except LedgerError as exc:
        return _show_refusal(slug, proposal_id, exc)
    flash("Your draft is withdrawn." if was_draft else "Your proposal is withdrawn.")
    return redirect(url_for("web.proposals.detail", slug=slug, proposal_id=proposal_id))


def _on_proposal(slug: str, proposal_id: int, user: SignedIn, act: Callable[[Session], T]) -> T:
    """``act(session)`` in one unit of work, on a proposal ``user`` may see: found through
    ``app.web.proposals.find`` first, so someone else's draft is not found (404), whatever is
    posted."""
    with database().write() as session:
        find(session, slug, proposal_id, viewer_id=user.id)
        return act(session)


def _show_refusal(slug: str, proposal_id: int, exc: LedgerError) -> Response | tuple[str, int]:
    """The page the form was on (the draft's, or the proposal's), saying why it was refused."""
    with database().read() as session:
        still_a_draft = proposals.get(session, proposal_id).status == Status.DRAFT
    render = render_draft if still_a_draft else render_detail
    return render(slug, proposal_id, problem=_refusal(exc), status=status_for(exc))


def _refusal(exc: LedgerError) -> str:
    return f"{exc.title}: {sentence(exc.detail)}"


def _user() -> SignedIn:
    user = signed_in()
    assert user is not None  # @login_required
    return user
