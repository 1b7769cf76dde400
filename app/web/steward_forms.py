"""The stewards' forms (Flask-WTF): invitations, roles, removal and the rules editor.

The rules editor only gathers what was typed; ``DecisionRules.from_dict`` decides whether the
rules are valid, and its ``InvalidRules.field`` says which field to put the message next to
(:data:`RULE_FIELDS`).
"""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
)
from wtforms.validators import InputRequired, Length, Optional

from ledger.governance.rules import MAX_COUNT, MAX_VOTING_WINDOW_HOURS
from ledger.people.models import MAX_EMAIL, Role

ROLE_CHOICES = [
    SelectChoice(Role.MEMBER.value, "Member: proposes and votes"),
    SelectChoice(Role.TREASURER.value, "Treasurer: also records money and reconciles"),
    SelectChoice(Role.STEWARD.value, "Steward: also manages members and the rules"),
]
RULE_KINDS = [
    SelectChoice("stewards", "Stewards decide: approved once enough stewards approve"),
    SelectChoice("threshold", "Threshold: approved once enough members approve, unless blocked"),
    SelectChoice("consent", "Consent: approved at the deadline if nobody objects"),
    SelectChoice("majority", "Majority: at the deadline, with a quorum"),
]
BALLOTS = [
    SelectChoice("open", "Open: everyone sees who voted how"),
    SelectChoice("secret", "Secret: only the counts are shown, to everyone"),
]
_NOT_A_NUMBER = "Write a whole number, like 3."


class InviteForm(FlaskForm):
    email = EmailField(
        "Email address",
        validators=[InputRequired("Give their email address."), Length(max=MAX_EMAIL)],
    )
    role = SelectField("Role", choices=ROLE_CHOICES, default=Role.MEMBER.value)


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=ROLE_CHOICES)


class ButtonForm(FlaskForm):
    """Remove a member, withdraw an invitation: who or what is in the URL."""


class WholeNumberField(IntegerField):
    """An integer field whose complaint says what to write."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError as exc:
            raise ValueError(_NOT_A_NUMBER) from exc


def _count(label: str, *, required: bool = False) -> WholeNumberField:
    return WholeNumberField(
        label,
        validators=[InputRequired(_NOT_A_NUMBER) if required else Optional()],
        render_kw={"inputmode": "numeric"},
    )


#: The settings of each rule kind: (key in the rule's JSON, form field).
KIND_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "stewards": (("approvals_needed", "stewards_approvals_needed"),),
    "threshold": (
        ("approvals_needed", "threshold_approvals_needed"),
        ("objections_to_reject", "threshold_objections_to_reject"),
    ),
    "consent": (("min_participants", "consent_min_participants"),),
    "majority": (
        ("quorum_percent", "majority_quorum_percent"),
        ("approval_above_percent", "majority_approval_above_percent"),
    ),
}


class RulesForm(FlaskForm):
    kind = RadioField("How proposals are decided", choices=RULE_KINDS)
    stewards_approvals_needed = _count("Stewards' approvals needed")
    threshold_approvals_needed = _count("Approvals needed")
    threshold_objections_to_reject = _count("Objections that reject it")
    consent_min_participants = _count("Members who must take part")
    majority_quorum_percent = StringField(
        "Quorum (% of members who vote)", validators=[Optional(), Length(max=20)]
    )
    majority_approval_above_percent = StringField(
        "Approved above (% of approve and object votes)", validators=[Optional(), Length(max=20)]
    )
    voting_window_hours = _count("Voting window (hours)", required=True)
    max_amount = StringField("Largest amount a proposal may ask for", validators=[Length(max=40)])
    max_open_proposals_per_member = _count("Open proposals per member, at most", required=True)
    ballot = RadioField("Ballot", choices=BALLOTS, default="open")
    late_joiners_may_vote = BooleanField(
        "Members who joined after a proposal opened may vote on it"
    )

    def field_for(self, rules_field: str) -> str | None:
        """The form field an ``InvalidRules.field`` names (None: no single field)."""
        if rules_field in ("rule", "rule.kind"):
            return "kind"
        if rules_field.startswith("rule."):
            key = rules_field.removeprefix("rule.")
            return next((f for k, f in KIND_FIELDS.get(self.kind.data, ()) if k == key), None)
        if rules_field in ("voting_window", "voting_window_hours"):
            return "voting_window_hours"
        if rules_field in (
            "max_amount",
            "max_open_proposals_per_member",
            "ballot",
            "late_joiners_may_vote",
        ):
            return rules_field
        return None


LIMITS_HINT = (
    f"Whole numbers up to {MAX_COUNT:,}; the voting window up to {MAX_VOTING_WINDOW_HOURS:,} hours."
)
