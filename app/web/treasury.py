"""The treasurer's page: record money in and out, pay and close funded proposals, and see the
pot's Open Collective sync at a glance (reconciliation is in ``app.web.opencollective``).

Each form posts to its own URL, calls one service function (the same ones the API calls) and
redirects back with a message; a refused form comes back with what was typed and why. Forms that
move money carry a one-time number (hidden field) that becomes the ledger's idempotency key, so a
form sent twice records once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for
from werkzeug.wrappers import Response

from app.extensions import database
from app.problems import status_for
from app.web.signin import SignedIn, login_required, require_pot_role, signed_in
from app.web.treasury_forms import CloseProposalForm, PayoutForm, RecordMoneyForm, sentence
from integrations.opencollective import store as oc_store
from ledger import pots as ledger_pots
from ledger.errors import InvalidAmount, LedgerError
from ledger.governance import funding, proposals
from ledger.governance import treasury as ledger_treasury
from ledger.governance.errors import ProposalNotFound
from ledger.governance.models import Proposal, Status
from ledger.models import Pot
from ledger.money import minor_digits, parse_amount, to_decimal_string
from ledger.people.membership import acting_roles
from ledger.people.models import Role
from ledger.timestamps import utcnow

blp = Blueprint("treasury", __name__)

#: Proposals a treasurer can still act on: pay (funded, partly paid) or close (and paid).
CLOSABLE = (*funding.HOLDING, Status.PAID)
MAX_LISTED = 500


@dataclass(frozen=True)
class FundedProposal:
    id: int
    title: str
    status: str
    amount: int
    paid: int

    @property
    def left(self) -> int:
        return self.amount - self.paid

    @property
    def payable(self) -> bool:
        return self.status in funding.HOLDING


def actor(user: SignedIn) -> str:
    return f"user:{user.id}"


def ledger_key(user: SignedIn, token: str) -> str:
    """Per person, like the API's keys, so two treasurers' numbers never meet."""
    return f"web:{user.id}:{token}"


@blp.get("/pots/<slug>/treasury")
@login_required
def treasury(slug: str) -> str:
    require_pot_role(slug, Role.TREASURER)
    return render_treasury(slug)


@blp.post("/pots/<slug>/treasury/entries")
@login_required
def record_money(slug: str) -> Response | tuple[str, int]:
    user = require_pot_role(slug, Role.TREASURER)
    form = RecordMoneyForm()
    if not form.validate_on_submit():
        return render_treasury(slug, record_form=form), 400
    try:
        with database().write() as session:
            pot = ledger_pots.get_pot(session, slug)
            kind = form.kind.data
            recorded = ledger_treasury.record_money(
                session,
                slug,
                kind,
                _amount(form.amount, pot),
                memo=form.memo.data.strip(),
                actor=actor(user),
                external_ref=(form.external_ref.data or "").strip() or None,
                idempotency_key=ledger_key(user, form.token.data),
                direction=form.direction.data if kind == "adjustment" else None,
            )
            seq = recorded.entry.seq
    except _FieldError:
        return render_treasury(slug, record_form=form), 400
    except LedgerError as exc:
        return render_treasury(slug, record_form=form, refusal=exc), status_for(exc)
    if recorded.created:
        flash(f"Recorded as entry #{seq}.", "success")
    else:
        flash(f"This form was already sent: it was recorded once, as entry #{seq}.", "info")
    return redirect(url_for(".treasury", slug=slug))


@blp.post("/pots/<slug>/treasury/payouts")
@login_required
def pay_proposal(slug: str) -> Response | tuple[str, int]:
    user = require_pot_role(slug, Role.TREASURER)
    form = PayoutForm(prefix=PayoutForm.PREFIX)
    if not form.validate_on_submit():
        return render_treasury(slug, payout_form=form), 400
    try:
        with database().write() as session:
            pot = ledger_pots.get_pot(session, slug)
            proposal = _proposal_in(session, pot, form.proposal.data)
            proposal, seq = proposals.pay(
                session,
                proposal.id,
                _amount(form.amount, pot),
                memo=(form.memo.data or "").strip() or None,
                actor=actor(user),
                idempotency_key=ledger_key(user, form.token.data),
                now=utcnow(),
            )
            title, status = proposal.title, proposal.status
    except _FieldError:
        return render_treasury(slug, payout_form=form), 400
    except LedgerError as exc:
        return render_treasury(slug, payout_form=form, refusal=exc), status_for(exc)
    flash(
        f"Payout for “{title}” recorded as entry #{seq}; the proposal is now "
        f"{status.replace('_', ' ')}.",
        "success",
    )
    return redirect(url_for(".treasury", slug=slug))


@blp.post("/pots/<slug>/treasury/proposals/<int:proposal_id>/close")
@login_required
def close_proposal(slug: str, proposal_id: int) -> Response | tuple[str, int]:
    user = require_pot_role(slug, Role.TREASURER)
    if not CloseProposalForm().validate_on_submit():
        return render_treasury(slug), 400
    try:
        with database().write() as session:
            pot = ledger_pots.get_pot(session, slug)
            proposal = _proposal_in(session, pot, proposal_id)
            closed = proposals.close(session, proposal.id, actor=actor(user), now=utcnow())
            title = closed.title
    except LedgerError as exc:
        return render_treasury(slug, refusal=exc), status_for(exc)
    flash(f"“{title}” is closed; what was not paid is available again.", "success")
    return redirect(url_for(".treasury", slug=slug))


def render_treasury(
    slug: str,
    *,
    record_form: RecordMoneyForm | None = None,
    payout_form: PayoutForm | None = None,
    refusal: LedgerError | None = None,
) -> str:
    """The page, with the forms as sent (errors and all) or fresh ones."""
    with database().read() as session:
        pot = ledger_pots.get_pot(session, slug)
        summary = ledger_pots.summarise(session, pot)
        funded = funded_proposals(session, pot)
        link = oc_store.find_link(session, pot)
        sync: dict[str, Any] | None = None
        if link is not None:
            sync = {
                "collective": link.collective_slug,
                "last_synced_at": link.last_synced_at,
                "last_error": link.last_error,
                "last_error_at": link.last_error_at,
            }
    record_form = record_form or RecordMoneyForm(formdata=None).fresh()
    if payout_form is None:
        payout_form = PayoutForm(formdata=None, prefix=PayoutForm.PREFIX)
        payout_form.fresh()
    payout_form.proposal.choices = [
        (p.id, f"#{p.id} {p.title}: {to_decimal_string(p.left, pot.currency)} left")
        for p in funded
        if p.payable
    ]
    return render_template(
        "treasury/treasury.html",
        pot=summary,
        currency=pot.currency,
        example=_example_amount(pot),
        record_form=record_form,
        payout_form=payout_form,
        close_form=CloseProposalForm(formdata=None),
        funded=funded,
        sync=sync,
        refusal=refusal,
        manage=manage_links(slug),
    )


@blp.app_template_global("pot_manage_links")
def manage_links(slug: str) -> list[tuple[str, str]]:
    """The pages that run the pot which the signed-in person may open (their role's)."""
    user = signed_in()
    if user is None:
        return []
    # One read for both groups of links (this runs on every page of a pot).
    with database().read() as session:
        acting = acting_roles(session, user, slug)
    links: list[tuple[str, str]] = []
    if Role.TREASURER in acting:
        links += [
            ("web.treasury.treasury", "Treasury"),
            ("web.opencollective.reconciliation_page", "Open Collective"),
        ]
    if Role.STEWARD in acting:
        links += [
            ("web.stewards.members_page", "Members"),
            ("web.stewards.edit_rules", "Edit rules"),
        ]
    return links


def funded_proposals(session: Any, pot: Pot) -> list[FundedProposal]:
    found: list[Proposal] = []
    for status in CLOSABLE:
        found += proposals.list_proposals(session, pot, status=status, limit=MAX_LISTED)
    return [
        FundedProposal(p.id, p.title, p.status, p.amount, p.paid_amount)
        for p in sorted(found, key=lambda p: p.id)
    ]


class _FieldError(Exception):
    """A domain refusal already put next to its field."""


def _amount(field: Any, pot: Pot) -> int:
    """The typed decimal as minor units, or its message next to the field."""
    try:
        return parse_amount(field.data, pot.currency)
    except InvalidAmount as exc:
        field.errors = [*field.errors, sentence(exc.detail)]
        raise _FieldError from exc


def _proposal_in(session: Any, pot: Pot, proposal_id: object) -> Proposal:
    """The proposal, if it is this pot's: a treasurer of one pot acts on no other pot's."""
    proposal = proposals.get(session, proposal_id)
    if proposal.pot_id != pot.id:
        raise ProposalNotFound(f"{pot.slug} has no proposal {proposal_id}")
    return proposal


def _example_amount(pot: Pot) -> str:
    """How an amount is typed in the pot's currency: 250.00 GBP, 250 JPY."""
    digits = minor_digits(pot.currency)
    return "250" + ("." + "0" * digits if digits else "")
