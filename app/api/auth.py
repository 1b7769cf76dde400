"""Signing in: API tokens (issue, list, revoke) and who I am.

``POST /tokens`` trades an email and password for a bearer token, shown once. An unknown email
and a wrong password get the same 401; repeated failures are rate-limited (app/ratelimit.py).
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from app.api.access import signed_in
from app.auth import require_user
from app.extensions import database
from app.ratelimit import failed_sign_ins, failed_sign_ins_per_email
from ledger.chain import format_timestamp
from ledger.people import accounts
from ledger.people.membership import memberships_of
from ledger.people.models import MAX_EMAIL, MAX_NAME, ApiToken
from ledger.people.passwords import MAX_LENGTH as MAX_PASSWORD

blp = Blueprint("auth", __name__, description="Signing in: API tokens, and who I am")


# --- schemas -------------------------------------------------------------------------------


class SignInSchema(Schema):
    email = fields.String(required=True, validate=validate.Length(min=1, max=MAX_EMAIL))
    password = fields.String(required=True, validate=validate.Length(min=1, max=MAX_PASSWORD))
    name = fields.String(
        load_default="API token",
        validate=validate.Length(min=1, max=accounts.MAX_TOKEN_NAME),
        metadata={"description": "What the token is for, to tell your tokens apart"},
    )


class TokenSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    prefix = fields.String(required=True, metadata={"description": "The token's first characters"})
    created_at = fields.String(required=True)
    last_used_at = fields.String(allow_none=True, required=True)
    revoked_at = fields.String(allow_none=True, required=True)


class IssuedTokenSchema(Schema):
    id = fields.Integer(required=True)
    token = fields.String(
        required=True,
        metadata={
            "description": "Send as 'Authorization: Bearer <token>'. Shown only now: "
            "only a hash of it is kept."
        },
    )
    name = fields.String(required=True)
    prefix = fields.String(required=True)
    created_at = fields.String(required=True)


class TokenListSchema(Schema):
    items = fields.List(fields.Nested(TokenSchema), required=True)


class MyMembershipSchema(Schema):
    pot = fields.String(required=True, metadata={"description": "The pot's slug"})
    pot_name = fields.String(required=True)
    role = fields.String(required=True, metadata={"example": "member"})
    joined_at = fields.String(required=True)


class MeSchema(Schema):
    id = fields.Integer(required=True)
    email = fields.String(required=True)
    display_name = fields.String(required=True, validate=validate.Length(max=MAX_NAME))
    is_admin = fields.Boolean(required=True)
    created_at = fields.String(required=True)
    memberships = fields.List(fields.Nested(MyMembershipSchema), required=True)


# --- shaping -------------------------------------------------------------------------------


def token_json(token: ApiToken) -> dict[str, Any]:
    return {
        "id": token.id,
        "name": token.name,
        "prefix": token.prefix,
        "created_at": format_timestamp(token.created_at),
        "last_used_at": _time(token.last_used_at),
        "revoked_at": _time(token.revoked_at),
    }


def _time(moment: Any) -> str | None:
    return None if moment is None else format_timestamp(moment)


# --- resources -----------------------------------------------------------------------------


@blp.route("/tokens")
class Tokens(MethodView):
    @failed_sign_ins
    @failed_sign_ins_per_email
    @blp.arguments(SignInSchema)
    @blp.response(201, IssuedTokenSchema)
    @blp.alt_response(401, description="The email or password is not right")
    @blp.alt_response(429, description="Too many failed sign-ins; see Retry-After")
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Sign in: a new bearer token for this email and password, shown once."""
        with database().write() as session:
            user = accounts.authenticate(session, body["email"], body["password"])
            issued = accounts.issue_token(session, user, name=body["name"])
            return {
                "id": issued.token.id,
                "token": issued.secret,
                "name": issued.token.name,
                "prefix": issued.token.prefix,
                "created_at": format_timestamp(issued.token.created_at),
            }

    @signed_in
    @blp.response(200, TokenListSchema)
    def get(self) -> dict[str, Any]:
        """My tokens, revoked ones included (never the tokens themselves)."""
        user = require_user()
        with database().read() as session:
            return {"items": [token_json(t) for t in accounts.list_tokens(session, user)]}


@blp.route("/tokens/<int:token_id>")
class TokenDetail(MethodView):
    @signed_in
    @blp.response(204)
    def delete(self, token_id: int) -> None:
        """Revoke one of my tokens; it stops working at once (revoking twice is harmless)."""
        user = require_user()
        with database().write() as session:
            accounts.revoke_token(session, user, token_id)


@blp.route("/me")
class Me(MethodView):
    @signed_in
    @blp.response(200, MeSchema)
    def get(self) -> dict[str, Any]:
        """Who I am, and my role in each pot I belong to."""
        user = require_user()
        with database().read() as session:
            memberships = [
                {
                    "pot": pot.slug,
                    "pot_name": pot.name,
                    "role": membership.role,
                    "joined_at": format_timestamp(membership.joined_at),
                }
                for pot, membership in memberships_of(session, user)
            ]
        return {
            "id": user.id,
            "email": user.email,
            "display_name": user.display_name,
            "is_admin": user.is_admin,
            "created_at": format_timestamp(user.created_at),
            "memberships": memberships,
        }
