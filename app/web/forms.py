"""The public site's forms (Flask-WTF): what each accepts and the message when it does not."""

from __future__ import annotations

from functools import cache
from typing import Any
from zoneinfo import available_timezones

from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, IntegerField, SelectChoice, SelectField
from wtforms.validators import NumberRange, Optional, ValidationError

from ledger.journal import KINDS
from ledger.models import MAX_SEQ

KIND_CHOICES = [SelectChoice(k, k.replace("_", " ")) for k in KINDS]


class LedgerFilterForm(FlaskForm):
    """The ledger browser's filters. A GET form (a search): bookmarkable and without CSRF token,
    since it changes nothing."""

    class Meta:
        csrf = False

    kind = SelectField(
        "Kind",
        choices=[SelectChoice("", "All kinds"), *KIND_CHOICES],
        default="",
    )
    since = DateField("From", validators=[Optional()], format="%Y-%m-%d")
    until = DateField("To", validators=[Optional()], format="%Y-%m-%d")
    after = IntegerField(
        "Page position (after entry)",
        validators=[
            Optional(),
            NumberRange(min=0, max=MAX_SEQ, message="It must be an entry number (0 or more)."),
        ],
        default=None,
    )

    def validate_until(self, field: DateField) -> None:
        if field.data and self.since.data and self.since.data > field.data:
            raise ValidationError("The end date is before the start date.")

    def query_args(self) -> dict[str, Any]:
        """The filters as URL query arguments (for the next page and download links)."""
        args: dict[str, Any] = {}
        if self.kind.data:
            args["kind"] = self.kind.data
        if self.since.data:
            args["since"] = self.since.data.isoformat()
        if self.until.data:
            args["until"] = self.until.data.isoformat()
        return args


@cache
def time_zone_choices() -> list[SelectChoice]:
    """UTC, then every IANA zone grouped by region ("Europe/London" under "Europe")."""
    zones = sorted(z for z in available_timezones() if "/" in z and not z.startswith("Etc/"))
    return [
        SelectChoice("", "UTC (the default)"),
        *(
            SelectChoice(z, z.split("/", 1)[1].replace("_", " "), optgroup=z.split("/", 1)[0])
            for z in zones
        ),
    ]


class TimeZoneForm(FlaskForm):
    """The reader's time zone for showing dates; kept in their session cookie."""

    time_zone = SelectField("Time zone", choices=time_zone_choices, default="")
    next = HiddenField()
