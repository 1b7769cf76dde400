"""What members do with proposals on the pages: submit one, vote (and change the vote), withdraw.

Each view checks the form, calls one service of ``ledger.governance.proposals`` in one unit of
work (as ``app.api.proposals`` does) and redirects to the proposal. A refusal from the domain
(voting closed, not allowed to vote, too many open proposals, ...) is shown on the page with
its status code, and everything typed stays in the form.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from werkzeug.wrappers import Response

from app.api.proposals import ballot_key
from app.extensions import database
from app.problems import status_for
from app.web.forms import ActionForm, ProposalForm, VoteForm, sentence
from app.web.proposals import PotView, categories, find, render_detail
from app.web.signin import login_required, require_pot_role, signed_in
from ledger import pots as ledger_pots
from ledger.errors import InvalidInput, LedgerError
from ledger.governance import proposals
from ledger.timestamps import utcnow

blp = Blueprint("proposing", __name__)

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
    form = ProposalForm()
    form.currency = view.currency
    problem = None
    status = 200
    if form.validate_on_submit():
        assert form.minor_amount is not None
        draft = proposals.Draft(
            title=form.title.data or "",
            summary=form.summary.data or "",
            amount=form.minor_amount,
            payee_name=form.payee_name.data or "",
            payee_oc_slug=form.payee_oc_slug.data or None,
            category=(form.category.data or "").strip() or None,
        )
        try:
            with database().write() as session:
                proposal = proposals.submit(
                    session, slug, draft, user_id=user.id, open_now=True, now=utcnow()
                )
                proposal_id = proposal.id
        except LedgerError as exc:
            problem = _place_error(form, exc)
            status = status_for(exc)
        else:
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


@blp.post("/pots/<slug>/proposals/<int:proposal_id>/vote")
@login_required
def vote(slug: str, proposal_id: int) -> Response | tuple[str, int]:
    user = signed_in()
    assert user is not None
    form = VoteForm()
    if not form.validate_on_submit():
        return render_detail(slug, proposal_id, vote_form=form, status=400)
    try:
        with database().write() as session:
            find(session, slug, proposal_id)
            proposals.vote(
                session,
                proposal_id,
                user_id=user.id,
                choice=form.choice.data or "",
                reason=form.reason.data or None,
                ballot_key=ballot_key(),
                now=utcnow(),
            )
    except LedgerError as exc:
        return render_detail(
            slug,
            proposal_id,
            vote_form=form,
            problem=f"{exc.title}: {sentence(exc.detail)}",
            status=status_for(exc),
        )
    flash("Your vote is recorded.")
    return redirect(url_for("web.proposals.detail", slug=slug, proposal_id=proposal_id) + "#vote")


@blp.post("/pots/<slug>/proposals/<int:proposal_id>/withdraw")
@login_required
def withdraw(slug: str, proposal_id: int) -> Response | tuple[str, int]:
    user = signed_in()
    assert user is not None
    form = ActionForm()
    if not form.validate_on_submit():
        return render_detail(slug, proposal_id, problem="Please try again.", status=400)
    try:
        with database().write() as session:
            find(session, slug, proposal_id)
            proposals.withdraw(session, proposal_id, user_id=user.id, now=utcnow())
    except LedgerError as exc:
        return render_detail(
            slug,
            proposal_id,
            problem=f"{exc.title}: {sentence(exc.detail)}",
            status=status_for(exc),
        )
    flash("Your proposal is withdrawn.")
    return redirect(url_for("web.proposals.detail", slug=slug, proposal_id=proposal_id))
