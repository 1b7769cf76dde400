"""The stewards' pages: members and their roles, invitations, and the rules editor.

Each form calls one function of ``ledger.people.membership`` or ``ledger.governance.rulebook``
(the same ones the API calls); their refusals (the last steward, an address already a member,
invalid rules) come back as messages on the page, with what was typed kept.

An invitation's one-time token is shown once, on the page that answers the invitation form, and
is never stored: only its hash is. That page is not cached, and nothing links back to it.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from app.extensions import database
from app.problems import status_for
from app.web.signin import SignedIn, login_required, require_pot_role
from app.web.steward_forms import (
    KIND_FIELDS,
    LIMITS_HINT,
    ButtonForm,
    InviteForm,
    RoleForm,
    RulesForm,
)
from app.web.treasury import manage_links
from app.web.treasury_forms import sentence
from ledger import pots as ledger_pots
from ledger.errors import InvalidAmount, InvalidInput, LedgerError
from ledger.governance import rulebook
from ledger.governance.rules import InvalidRules
from ledger.journal import lock_pot
from ledger.money import minor_digits, parse_amount, to_decimal_string
from ledger.people import membership as members
from ledger.people.models import Role, User

blp = Blueprint("stewards", __name__)

#: Where the invited person accepts: the member pages' accept-an-invitation page (token in the
#: query string, so the link works from an email without JavaScript).
ACCEPT_PATH = "/invitations/accept"


# --- members and invitations -----------------------------------------------------------------


@blp.get("/pots/<slug>/members")
@login_required
def members_page(slug: str) -> str:
    user = require_pot_role(slug, Role.STEWARD)
    return render_members(slug, user)


@blp.post("/pots/<slug>/members/invite")
@login_required
def invite(slug: str) -> Response | tuple[str, int]:
    user = require_pot_role(slug, Role.STEWARD)
    form = InviteForm()
    if not form.validate_on_submit():
        return render_members(slug, user, invite_form=form), 400
    try:
        with database().write() as session:
            issued = members.invite(
                session, slug, form.email.data, form.role.data, _user(session, user)
            )
            invitation = {
                "email": issued.invitation.email,
                "role": issued.invitation.role,
                "expires_at": issued.invitation.expires_at,
            }
            pot = ledger_pots.get_pot(session, slug)
    except LedgerError as exc:
        return render_members(slug, user, invite_form=form, refusal=exc), status_for(exc)
    link = f"{request.host_url.rstrip('/')}{ACCEPT_PATH}?token={issued.token}"
    response = make_response(
        render_template(
            "stewards/invited.html",
            pot=pot,
            invitation=invitation,
            link=link,
            manage=manage_links(slug),
        )
    )
    response.headers["Cache-Control"] = "no-store"  # the token is shown once: keep no copy
    return response


@blp.post("/pots/<slug>/members/<int:user_id>/role")
@login_required
def change_role(slug: str, user_id: int) -> Response | tuple[str, int]:
    user = require_pot_role(slug, Role.STEWARD)
    form = RoleForm()
    if not form.validate_on_submit():
        return render_members(slug, user, refusal=_not_a_role()), 400
    try:
        with database().write() as session:
            members.change_role(session, slug, user_id, form.role.data, _user(session, user))
            name = _name_of(session, user_id)
    except LedgerError as exc:
        return render_members(slug, user, refusal=exc), status_for(exc)
    flash(f"{name} is now a {form.role.data}.", "success")
    return redirect(url_for(".members_page", slug=slug))


@blp.post("/pots/<slug>/members/<int:user_id>/remove")
@login_required
def remove(slug: str, user_id: int) -> Response | tuple[str, int]:
    user = require_pot_role(slug, Role.STEWARD)
    if not ButtonForm().validate_on_submit():
        return render_members(slug, user), 400
    try:
        with database().write() as session:
            name = _name_of(session, user_id)
            members.remove(session, slug, user_id, _user(session, user))
    except LedgerError as exc:
        return render_members(slug, user, refusal=exc), status_for(exc)
    flash(f"{name} is no longer a member of the pot.", "success")
    if user_id == user.id and not user.is_admin:
        return redirect(url_for("web.pots.overview", slug=slug))
    return redirect(url_for(".members_page", slug=slug))


@blp.post("/pots/<slug>/invitations/<int:invitation_id>/withdraw")
@login_required
def withdraw_invitation(slug: str, invitation_id: int) -> Response | tuple[str, int]:
    user = require_pot_role(slug, Role.STEWARD)
    if not ButtonForm().validate_on_submit():
        return render_members(slug, user), 400
    try:
        with database().write() as session:
            withdrawn = members.revoke_invitation(
                session, slug, invitation_id, _user(session, user)
            )
            email = withdrawn.email
    except LedgerError as exc:
        return render_members(slug, user, refusal=exc), status_for(exc)
    flash(f"The invitation to {email} is withdrawn: its link no longer works.", "success")
    return redirect(url_for(".members_page", slug=slug))


def render_members(
    slug: str,
    user: SignedIn,
    *,
    invite_form: InviteForm | None = None,
    refusal: LedgerError | None = None,
) -> str:
    with database().read() as session:
        pot = ledger_pots.get_pot(session, slug)
        people = members.list_members(session, pot)
        pending = [
            {
                "id": i.id,
                "email": i.email,
                "role": i.role,
                "created_at": i.created_at,
                "expires_at": i.expires_at,
            }
            for i in members.list_invitations(session, pot)
            if members.invitation_state(i) == "pending"
        ]
    return render_template(
        "stewards/members.html",
        pot=pot,
        people=people,
        pending=pending,
        me=user.id,
        invite_form=invite_form or InviteForm(formdata=None),
        role_form=RoleForm(formdata=None),
        button_form=ButtonForm(formdata=None),
        refusal=refusal,
        manage=manage_links(slug),
    )


# --- the rules editor ------------------------------------------------------------------------


@blp.route("/pots/<slug>/rules/edit", methods=["GET", "POST"])
@login_required
def edit_rules(slug: str) -> Response | tuple[str, int]:
    user = require_pot_role(slug, Role.STEWARD)
    with database().read() as session:
        pot = ledger_pots.get_pot(session, slug)
        in_force = rulebook.rules_in_force(session, pot)
    if request.method == "GET":
        form = RulesForm(formdata=None, data=_form_data(in_force.rules.to_dict(), pot.currency))
        return render_rules(pot, form, in_force), 200
    form = RulesForm()
    if not _valid(form):
        return render_rules(pot, form, in_force), 400
    try:
        data = _rules_data(form, pot.currency)
    except InvalidAmount as exc:
        form.max_amount.errors = [sentence(exc.detail)]
        return render_rules(pot, form, in_force), 400
    try:
        with database().write() as session:
            locked = lock_pot(session, slug)
            saved = rulebook.change_rules(
                session, locked, data, user_id=user.id, actor=f"user:{user.id}"
            )
    except InvalidRules as exc:
        where = form.field_for(exc.field)
        if where is None:
            return render_rules(pot, form, in_force, refusal=exc), 400
        form[where].errors = [*form[where].errors, sentence(exc.problem)]
        return render_rules(pot, form, in_force), 400
    except LedgerError as exc:
        return render_rules(pot, form, in_force, refusal=exc), status_for(exc)
    flash(
        f"Saved: version {saved.version} of the rules is in force. Proposals already open keep "
        "the version they opened under.",
        "success",
    )
    return redirect(url_for(".edit_rules", slug=slug))


def render_rules(
    pot: Any,
    form: RulesForm,
    in_force: rulebook.RulesInForce,
    *,
    refusal: LedgerError | None = None,
) -> str:
    digits = minor_digits(pot.currency)
    return render_template(
        "stewards/rules.html",
        pot=pot,
        form=form,
        version=in_force.rules.version,
        chosen=in_force.chosen,
        set_at=in_force.set_at,
        example="1000" + ("." + "0" * digits if digits else ""),
        limits=LIMITS_HINT,
        refusal=refusal,
        manage=manage_links(pot.slug),
    )


def _valid(form: RulesForm) -> bool:
    """The form's own checks, except on the settings of the rule kinds not chosen (typed
    there, perhaps, before the steward changed their mind: ignored, not an error)."""
    form.validate_on_submit()
    unused = {
        name for kind, pairs in KIND_FIELDS.items() if kind != form.kind.data for _, name in pairs
    }
    for name in unused:
        form[name].errors = []
    return not form.errors


def _rules_data(form: RulesForm, currency: str) -> dict[str, Any]:
    """What was typed, as the rules' JSON form (``DecisionRules.from_dict`` checks it)."""
    rule: dict[str, Any] = {"kind": form.kind.data}
    for key, name in KIND_FIELDS.get(form.kind.data, ()):
        value = form[name].data
        if isinstance(value, str):
            value = value.strip() or None
        if value is not None:
            rule[key] = value
    max_amount = (form.max_amount.data or "").strip()
    return {
        "rule": rule,
        "voting_window_hours": form.voting_window_hours.data,
        "max_open_proposals_per_member": form.max_open_proposals_per_member.data,
        "max_amount": parse_amount(max_amount, currency) if max_amount else None,
        "ballot": form.ballot.data,
        "late_joiners_may_vote": bool(form.late_joiners_may_vote.data),
    }


def _form_data(rules: dict[str, Any], currency: str) -> dict[str, Any]:
    """The rules in force as the form's starting values."""
    rule = rules["rule"]
    data: dict[str, Any] = {
        "kind": rule["kind"],
        "voting_window_hours": rules["voting_window_hours"],
        "max_open_proposals_per_member": rules["max_open_proposals_per_member"],
        "max_amount": ""
        if rules["max_amount"] is None
        else to_decimal_string(rules["max_amount"], currency),
        "ballot": rules["ballot"],
        "late_joiners_may_vote": rules["late_joiners_may_vote"],
    }
    for key, name in KIND_FIELDS[rule["kind"]]:
        data[name] = rule[key] if isinstance(rule[key], int) else str(rule[key])
    return data


# --- helpers ---------------------------------------------------------------------------------


def _user(session: Any, user: SignedIn) -> User:
    found = session.get(User, user.id)
    assert found is not None  # signed in: the account exists
    return found


def _name_of(session: Any, user_id: int) -> str:
    found = session.get(User, user_id) if 0 < user_id < 2**63 else None
    return found.display_name if found is not None else f"User {user_id}"


def _not_a_role() -> LedgerError:
    return InvalidInput("choose one of the roles member, treasurer or steward")
