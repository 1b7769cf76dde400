"""A pot's members and invitations.

Who sees what: the member list (names, roles, when they joined) is for the pot's members only
(401 for the public, 403 for people outside the pot); how many members a pot has is public.
Stewards invite, change roles and remove; any member may leave. Accepting an invitation needs
only its token (and, for a new account, a name and a password).
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from app.api.access import role_required, signed_in
from app.auth import current_user, require_role, require_user
from app.extensions import database
from ledger import pots as ledger_pots
from ledger.chain import format_timestamp
from ledger.people import membership as members
from ledger.people.models import MAX_EMAIL, MAX_NAME, ROLE_VALUES, Invitation, Role, User
from ledger.people.passwords import MAX_LENGTH as MAX_PASSWORD

blp = Blueprint("members", __name__, description="Members of a pot, their roles, invitations")

ACCEPT_PATH = "/api/v1/invitations/accept"


# --- schemas -------------------------------------------------------------------------------

_role = fields.String(
    required=True,
    validate=validate.OneOf(ROLE_VALUES),
    metadata={"description": "member, treasurer or steward", "example": "member"},
)


class MemberSchema(Schema):
    user_id = fields.Integer(required=True)
    display_name = fields.String(required=True)
    role = fields.String(required=True)
    joined_at = fields.String(required=True)


class MemberListSchema(Schema):
    items = fields.List(fields.Nested(MemberSchema), required=True)


class InviteSchema(Schema):
    email = fields.String(required=True, validate=validate.Length(min=1, max=MAX_EMAIL))
    role = _role


class RoleSchema(Schema):
    role = _role


class InvitationSchema(Schema):
    id = fields.Integer(required=True)
    pot = fields.String(required=True)
    email = fields.String(required=True)
    role = fields.String(required=True)
    state = fields.String(
        required=True, metadata={"description": "pending, accepted, revoked or expired"}
    )
    invited_by = fields.Integer(allow_none=True, required=True)
    created_at = fields.String(required=True)
    expires_at = fields.String(required=True)
    accepted_at = fields.String(allow_none=True, required=True)
    accepted_by = fields.Integer(allow_none=True, required=True)
    revoked_at = fields.String(allow_none=True, required=True)


class IssuedInvitationSchema(InvitationSchema):
    token = fields.String(
        required=True,
        metadata={
            "description": "The one-time token for the invited person, shown only now: send "
            "it to them. They accept by POSTing it to accept_path."
        },
    )
    accept_path = fields.String(required=True, metadata={"example": ACCEPT_PATH})


class InvitationListSchema(Schema):
    items = fields.List(fields.Nested(InvitationSchema), required=True)


class AcceptSchema(Schema):
    token = fields.String(required=True, validate=validate.Length(min=1, max=100))
    name = fields.String(
        validate=validate.Length(min=1, max=MAX_NAME),
        metadata={"description": "Your display name, when the invitation creates your account"},
    )
    password = fields.String(
        validate=validate.Length(min=1, max=MAX_PASSWORD),
        metadata={
            "description": "A new password (new account), or your account's password when its "
            "email already has one and you are not signed in"
        },
    )


class JoinedSchema(Schema):
    pot = fields.String(required=True)
    user_id = fields.Integer(required=True)
    role = fields.String(required=True)
    joined_at = fields.String(required=True)
    new_account = fields.Boolean(
        required=True, metadata={"description": "Whether accepting created your account"}
    )


# --- shaping -------------------------------------------------------------------------------


def invitation_json(invitation: Invitation, slug: str) -> dict[str, Any]:
    def moment(value: Any) -> str | None:
        return None if value is None else format_timestamp(value)

    return {
        "id": invitation.id,
        "pot": slug,
        "email": invitation.email,
        "role": invitation.role,
        "state": members.invitation_state(invitation),
        "invited_by": invitation.invited_by,
        "created_at": format_timestamp(invitation.created_at),
        "expires_at": format_timestamp(invitation.expires_at),
        "accepted_at": moment(invitation.accepted_at),
        "accepted_by": invitation.accepted_by,
        "revoked_at": moment(invitation.revoked_at),
    }


def member_json(member: members.Member) -> dict[str, Any]:
    return {
        "user_id": member.user_id,
        "display_name": member.display_name,
        "role": member.role.value,
        "joined_at": format_timestamp(member.joined_at),
    }


# --- resources -----------------------------------------------------------------------------


@blp.route("/pots/<slug>/members")
class Members(MethodView):
    @role_required()
    @blp.response(200, MemberListSchema)
    def get(self, slug: str) -> dict[str, Any]:
        """The pot's members with their roles, oldest first. Members only."""
        with database().read() as session:
            pot = ledger_pots.get_pot(session, slug)
            return {"items": [member_json(m) for m in members.list_members(session, pot)]}

    @role_required(Role.STEWARD)
    @blp.arguments(InviteSchema)
    @blp.response(201, IssuedInvitationSchema)
    def post(self, body: dict[str, Any], slug: str) -> dict[str, Any]:
        """Invite someone by email. The answer holds the one-time token, shown only now;
        it expires after 14 days. Inviting an address again replaces its pending invitation.
        Stewards only."""
        steward = require_user()
        with database().write() as session:
            issued = members.invite(session, slug, body["email"], body["role"], steward)
            return invitation_json(issued.invitation, slug) | {
                "token": issued.token,
                "accept_path": ACCEPT_PATH,
            }


@blp.route("/pots/<slug>/members/<int:user_id>")
class MemberDetail(MethodView):
    @role_required(Role.STEWARD)
    @blp.arguments(RoleSchema)
    @blp.response(200, MemberSchema)
    def patch(self, body: dict[str, Any], slug: str, user_id: int) -> dict[str, Any]:
        """Change a member's role. The last steward cannot be demoted. Stewards only."""
        steward = require_user()
        with database().write() as session:
            changed = members.change_role(session, slug, user_id, body["role"], steward)
            person = session.get(User, user_id)
            assert person is not None  # a membership's user exists (foreign key)
            return member_json(
                members.Member(user_id, person.display_name, Role(changed.role), changed.joined_at)
            )

    @signed_in
    @blp.response(204)
    def delete(self, slug: str, user_id: int) -> None:
        """Remove a member (stewards), or leave the pot (your own user id). The last steward
        can do neither."""
        user = require_user()
        if user.id != user_id:
            require_role(slug, Role.STEWARD)
        with database().write() as session:
            members.remove(session, slug, user_id, user)


@blp.route("/pots/<slug>/invitations")
class Invitations(MethodView):
    @role_required(Role.STEWARD)
    @blp.response(200, InvitationListSchema)
    def get(self, slug: str) -> dict[str, Any]:
        """Every invitation of the pot with its state (never the tokens). Stewards only."""
        with database().read() as session:
            pot = ledger_pots.get_pot(session, slug)
            return {
                "items": [invitation_json(i, slug) for i in members.list_invitations(session, pot)]
            }


@blp.route("/pots/<slug>/invitations/<int:invitation_id>")
class InvitationDetail(MethodView):
    @role_required(Role.STEWARD)
    @blp.response(204)
    def delete(self, slug: str, invitation_id: int) -> None:
        """Withdraw a pending invitation: its token stops working. Stewards only."""
        steward = require_user()
        with database().write() as session:
            members.revoke_invitation(session, slug, invitation_id, steward)


@blp.route("/invitations/accept")
class AcceptInvitation(MethodView):
    @blp.arguments(AcceptSchema)
    @blp.response(201, JoinedSchema)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Join a pot with an invitation's token, once, within 14 days.

        Signed in: you join as yourself (the invitation must have been sent to your email).
        Not signed in: give a name and a password to create your account with the invitation's
        email, or, when that email already has an account, its password.
        """
        user = current_user()
        with database().write() as session:
            joined = members.accept(
                session,
                body["token"],
                user=user,
                name=body.get("name"),
                password=body.get("password"),
            )
            return {
                "pot": joined.pot.slug,
                "user_id": joined.user.id,
                "role": joined.membership.role,
                "joined_at": format_timestamp(joined.membership.joined_at),
                "new_account": joined.new_account,
            }
