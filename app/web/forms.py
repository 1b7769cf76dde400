"""The public site's forms (Flask-WTF): what each accepts and the message when it does not."""

from __future__ import annotations

from functools import cache
from typing import Any
from zoneinfo import available_timezones

from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    HiddenField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError

from ledger.errors import InvalidAmount
from ledger.governance.models import (
    MAX_CATEGORY,
    MAX_OC_SLUG,
    MAX_PAYEE,
    MAX_REASON,
    MAX_SUMMARY,
    MAX_TITLE,
    Choice,
    Status,
)
from ledger.journal import KINDS
from ledger.models import MAX_SEQ
from ledger.money import MAX_AMOUNT, parse_amount
from ledger.people.models import MAX_NAME
from ledger.people.passwords import MAX_LENGTH as PASSWORD_MAX
from ledger.people.passwords import MIN_LENGTH as PASSWORD_MIN

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


# -- proposals and membership (member pages) --------------------------------------------------

# A draft is never in a public list, so there is nothing to filter by.
STATUS_CHOICES = [
    SelectChoice("", "Any status"),
    *(SelectChoice(s.value, s.value.replace("_", " ")) for s in Status if s != Status.DRAFT),
]


class ProposalFilterForm(FlaskForm):
    """The proposals list's filters: a GET form (a search), so no CSRF token."""

    class Meta:
        csrf = False

    status = SelectField("Status", choices=STATUS_CHOICES, default="")
    category = SelectField("Category", choices=[SelectChoice("", "Any category")], default="")
    after = IntegerField(
        "Page position (after proposal)",
        validators=[
            Optional(),
            NumberRange(min=0, max=MAX_AMOUNT, message="It must be a proposal number."),
        ],
        default=None,
    )

    def query_args(self) -> dict[str, Any]:
        return {
            name: getattr(self, name).data
            for name in ("status", "category")
            if getattr(self, name).data
        }


class ProposalForm(FlaskForm):
    """A new proposal. ``currency`` (set by the view) is the pot's: the amount is typed as a
    decimal in it and converted exactly to minor units (``minor_amount``)."""

    title = StringField(
        "Title",
        validators=[
            InputRequired("Give the proposal a title."),
            Length(max=MAX_TITLE, message=f"At most {MAX_TITLE} characters."),
        ],
    )
    summary = TextAreaField(
        "What is it for?",
        validators=[
            InputRequired("Say what the money is for."),
            Length(max=MAX_SUMMARY, message=f"At most {MAX_SUMMARY} characters."),
        ],
        render_kw={"rows": 8},
    )
    amount = StringField(
        "Amount",
        validators=[InputRequired("Say how much you are asking for.")],
        render_kw={"inputmode": "decimal", "autocomplete": "off"},
    )
    payee_name = StringField(
        "Who is paid",
        validators=[
            InputRequired("Say who the money goes to."),
            Length(max=MAX_PAYEE, message=f"At most {MAX_PAYEE} characters."),
        ],
    )
    payee_oc_slug = StringField(
        "Their Open Collective account (optional)",
        validators=[Optional(), Length(max=MAX_OC_SLUG, message="That is too long.")],
        filters=[lambda text: text.strip() if isinstance(text, str) else text],
    )
    category = StringField(
        "Category (optional)",
        validators=[
            Optional(),
            Length(max=MAX_CATEGORY, message=f"At most {MAX_CATEGORY} characters."),
        ],
    )

    currency = "GBP"
    minor_amount: int | None = None

    def validate_amount(self, field: StringField) -> None:
        try:
            self.minor_amount = parse_amount(field.data or "", self.currency)
        except InvalidAmount as exc:
            raise ValidationError(sentence(exc.detail)) from None


class NewProposalForm(ProposalForm):
    """A new proposal: opened for votes at once, or kept as a draft (``save_draft``: the button
    that sent the form)."""

    save_draft = SubmitField("Save as draft")


class CoProposerForm(FlaskForm):
    """Naming a co-proposer of a draft. The choices offered are the pot's members not yet named
    on it (``set_candidates``); whether the one chosen may be named is the service's to say,
    so a choice is only checked to be a user id here."""

    member = SelectField(
        "Member",
        choices=[],
        validate_choice=False,
        validators=[InputRequired("Choose the member who proposes it with you.")],
    )

    def set_candidates(self, candidates: list[tuple[int, str]]) -> None:
        self.member.choices = [
            SelectChoice("", "Choose a member"),
            *(SelectChoice(str(user_id), name) for user_id, name in candidates),
        ]

    def validate_member(self, field: SelectField) -> None:
        value = field.data or ""
        digits = value.isascii() and value.isdigit() and len(value) <= 16
        if not (digits and 0 < int(value) <= MAX_AMOUNT):
            raise ValidationError("Choose a member of the pot.")

    @property
    def member_id(self) -> int:
        return int(self.member.data or 0)


VOTE_CHOICES = (
    SelectChoice(Choice.APPROVE.value, "Approve"),
    SelectChoice(Choice.OBJECT.value, "Object"),
    SelectChoice(Choice.ABSTAIN.value, "Abstain"),
)


class VoteForm(FlaskForm):
    choice = RadioField(
        "Your vote",
        choices=list(VOTE_CHOICES),
        validators=[InputRequired("Choose approve, object or abstain.")],
    )
    reason = TextAreaField(
        "Your reason (optional)",
        validators=[
            Optional(),
            Length(max=MAX_REASON, message=f"At most {MAX_REASON} characters."),
        ],
        render_kw={"rows": 3},
    )


class ActionForm(FlaskForm):
    """A form that is only a button (withdraw, join): its CSRF token is all it carries."""


class AcceptInvitationForm(FlaskForm):
    """Joining with an invitation's token; name and password create the account when the
    invited person is not signed in."""

    token = HiddenField(validators=[InputRequired("This link has lost its invitation token.")])
    name = StringField(
        "Your name",
        validators=[Optional(), Length(max=MAX_NAME, message=f"At most {MAX_NAME} characters.")],
        render_kw={"autocomplete": "name"},
    )
    password = PasswordField(
        "Choose a password",
        validators=[Optional(), Length(max=PASSWORD_MAX, message="That password is too long.")],
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField("The same password again", render_kw={"autocomplete": "new-password"})

    def validate_name(self, field: StringField) -> None:
        if self.creating_account and not (field.data or "").strip():
            raise ValidationError("Give the name other members will see.")

    def validate_password(self, field: PasswordField) -> None:
        if not self.creating_account:
            return
        if len(field.data or "") < PASSWORD_MIN:
            raise ValidationError(f"Use at least {PASSWORD_MIN} characters.")

    def validate_confirm(self, field: PasswordField) -> None:
        if self.creating_account and field.data != self.password.data:
            raise ValidationError("The two passwords are not the same.")

    #: False when the person is signed in and joins as themselves.
    creating_account = True


def sentence(text: str) -> str:
    """A service's message (\"voting is closed\") as a sentence for a page."""
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")
