"""The forms a member fills in on a round's page while it votes (Flask-WTF, with CSRF): an
approval ballot, or pledges of their share in a co-funding round.

The forms only check what was typed; whether a ballot keeps the round's limits, names eligible
projects and comes in time is decided by ``ledger.rounds.services``, as for the API.
"""

from __future__ import annotations

import re
from typing import Any

from flask_wtf import FlaskForm
from wtforms import FieldList, Form, FormField, IntegerField, SelectMultipleField, StringField
from wtforms.validators import InputRequired, NumberRange, Optional
from wtforms.widgets import CheckboxInput, HiddenInput, ListWidget

from app.web.forms import sentence
from ledger.errors import InvalidAmount
from ledger.money import MAX_AMOUNT, parse_amount

#: Enough for any round's projects; a longer list is not a browser's doing.
MAX_PLEDGE_ROWS = 500
_ZERO = re.compile(r"^\s*0*(\.0*)?\s*$")
_PROJECT_ID = re.compile(r"[0-9]{1,18}")


class ProjectChoices(SelectMultipleField):
    """Checkboxes of project ids. Unlike its parent, keeps the ids it could read when another
    value is not one, so that a refused form still shows what was ticked."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.data = [int(v) for v in valuelist if _PROJECT_ID.fullmatch(str(v))]
        if len(self.data) != len(valuelist):
            raise ValueError("Only the projects listed here can be ticked.")


class BallotForm(FlaskForm):
    """The projects a member approves: a checkbox per eligible project (the view sets the
    choices). Ids outside the choices are passed on, so the service says what is wrong."""

    projects = ProjectChoices(
        "Projects you approve",
        coerce=int,
        choices=[],
        validate_choice=False,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )


class PledgeRow(Form):
    """One project's line of the pledge form (a sub-form: the CSRF token is the parent's)."""

    project = IntegerField(
        widget=HiddenInput(),
        validators=[InputRequired(), NumberRange(min=1, max=MAX_AMOUNT)],
    )
    amount = StringField(
        "Your pledge",
        validators=[Optional()],
        render_kw={"inputmode": "decimal", "autocomplete": "off", "size": 10},
    )


class PledgeForm(FlaskForm):
    """A member's pledges in a co-funding round: an amount per project, typed as a decimal in
    the pot's currency (``currency``, set by the view); empty or zero means no pledge."""

    pledges = FieldList(FormField(PledgeRow), max_entries=MAX_PLEDGE_ROWS)

    currency = "GBP"

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        for row in self.pledges:
            amount = row.form.amount
            try:
                self._parse(amount.data)
            except InvalidAmount as exc:
                amount.errors = [*amount.errors, sentence(exc.detail)]
                valid = False
        return valid

    def minor_pledges(self) -> dict[int, int]:
        """Project id -> minor units, for the projects given an amount (after validation)."""
        pledges: dict[int, int] = {}
        for row in self.pledges:
            minor = self._parse(row.form.amount.data)
            project = row.form.project.data
            if minor and project is not None:
                pledges[project] = pledges.get(project, 0) + minor
        return pledges

    def _parse(self, text: str | None) -> int:
        if not text or _ZERO.match(text):
            return 0
        return parse_amount(text, self.currency)
