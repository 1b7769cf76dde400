"""The treasurer's forms (Flask-WTF): recording money, paying and closing funded proposals,
resolving reconciliation items. Amounts are typed as decimals in the pot's currency and turned
into minor units by the ledger's own ``parse_amount`` in the view, so its message is the one shown.
"""

from __future__ import annotations

import uuid

from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import AnyOf, DataRequired, InputRequired, Length, Optional

from integrations.opencollective.reconcile import MAX_REASON
from ledger.journal import MAX_MEMO, MAX_REF

# What a treasurer records by hand on the page; allocations and releases are made by decisions.
RECORD_KINDS = [
    SelectChoice("contribution", "Contribution: money in"),
    SelectChoice("refund", "Refund: money given back to a contributor"),
    SelectChoice("fee", "Fee: charged by the host or a bank"),
    SelectChoice("payout", "Payout: money out, not for a proposal"),
    SelectChoice("adjustment", "Adjustment: a correction, in or out"),
]
DIRECTIONS = [
    SelectChoice("increase", "Increase (money in)"),
    SelectChoice("decrease", "Decrease (money out)"),
]
TOKEN_MESSAGE = "This form lost its one-time number. Reload the page and send it again."


def sentence(text: str) -> str:
    """A service's message ("amount must be ...") as a sentence next to a field."""
    text = text.strip()
    return (text[:1].upper() + text[1:]).rstrip(".") + "."


def new_token() -> str:
    """The hidden number that makes a form record once, however often it is sent."""
    return uuid.uuid4().hex


class _OnceForm(FlaskForm):
    token = HiddenField(
        "One-time form number", validators=[DataRequired(TOKEN_MESSAGE), Length(max=64)]
    )

    def fresh(self) -> _OnceForm:
        self.token.data = new_token()
        return self


class RecordMoneyForm(_OnceForm):
    kind = SelectField("Kind", choices=RECORD_KINDS, default="contribution")
    direction = RadioField("Direction (adjustments only)", choices=DIRECTIONS, default="increase")
    amount = StringField("Amount", validators=[InputRequired("Give the amount."), Length(max=40)])
    memo = StringField(
        "What it was", validators=[InputRequired("Say what it was."), Length(max=MAX_MEMO)]
    )
    external_ref = StringField(
        "External reference (optional)", validators=[Optional(), Length(max=MAX_REF)]
    )


class PayoutForm(_OnceForm):
    PREFIX = "payout"  # its fields' names and ids stay apart from the record form's

    proposal = SelectField("Funded proposal", coerce=int, validate_choice=False)
    amount = StringField(
        "Amount paid", validators=[InputRequired("Give the amount."), Length(max=40)]
    )
    memo = StringField(
        "Memo (optional)",
        validators=[Optional(), Length(max=MAX_MEMO)],
    )


class CloseProposalForm(FlaskForm):
    """One button per funded proposal; the proposal is in the URL."""


class ResolveForm(FlaskForm):
    """Import a missing transaction, or adjust with a written reason: one form per item."""

    item = HiddenField("Item", validators=[DataRequired(), Length(max=210)])
    action = HiddenField("Action", validators=[AnyOf(["import", "adjust"])])
    reason = TextAreaField("Reason", validators=[Optional(), Length(max=MAX_REASON)])
    amount = StringField("Amount (optional, signed)", validators=[Optional(), Length(max=40)])
