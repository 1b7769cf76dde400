"""A pot's decision rules: the version in force and every earlier one (public), and changing
them (stewards)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import INCLUDE, Schema, fields

from app.auth import require_role
from app.extensions import database
from ledger.chain import format_timestamp
from ledger.governance import rulebook
from ledger.journal import lock_pot
from ledger.people.models import Role
from ledger.pots import get_pot

blp = Blueprint("rules", __name__, description="Decision rules, versioned")


class RulesInSchema(Schema):
    """Checked in full by the rules themselves (``DecisionRules.from_dict``), which name the
    bad field; docs/decision-rules.md describes every setting."""

    class Meta:
        unknown = INCLUDE

    rule = fields.Dict(
        required=True,
        metadata={
            "example": {"kind": "threshold", "approvals_needed": 3, "objections_to_reject": 2}
        },
    )
    voting_window_hours = fields.Raw(required=True, metadata={"example": 168})
    max_open_proposals_per_member = fields.Raw(required=True, metadata={"example": 3})
    max_amount = fields.Raw(metadata={"description": "Minor units, or null for no limit"})
    ballot = fields.Raw(metadata={"example": "open"})
    late_joiners_may_vote = fields.Raw(metadata={"example": False})


class RulesOutSchema(Schema):
    version = fields.Integer(required=True)
    rule = fields.Dict(required=True)
    voting_window_hours = fields.Integer(required=True)
    max_amount = fields.Integer(allow_none=True)
    max_open_proposals_per_member = fields.Integer(required=True)
    ballot = fields.String(required=True)
    late_joiners_may_vote = fields.Boolean(required=True)
    chosen = fields.Boolean(
        required=True,
        metadata={"description": "False: the defaults (stored or not), never chosen by stewards"},
    )
    set_at = fields.String(allow_none=True)
    set_by = fields.Integer(allow_none=True)


class RulesHistorySchema(Schema):
    items = fields.List(fields.Nested(RulesOutSchema), required=True)


def _json(entry: rulebook.RulesInForce) -> dict[str, Any]:
    return {
        **entry.rules.to_dict(),
        "chosen": entry.chosen,
        "set_at": format_timestamp(entry.set_at) if entry.set_at else None,
        "set_by": entry.set_by,
    }


@blp.route("/<slug>/rules")
class Rules(MethodView):
    @blp.response(200, RulesOutSchema)
    def get(self, slug: str) -> dict[str, Any]:
        """The rules in force: new proposals are decided under this version."""
        with database().read() as session:
            return _json(rulebook.rules_in_force(session, get_pot(session, slug)))

    @blp.arguments(RulesInSchema)
    @blp.response(200, RulesOutSchema)
    def put(self, body: dict[str, Any], slug: str) -> dict[str, Any]:
        """Choose new rules (stewards). Proposals already open keep the version they opened
        under; the change is recorded in the pot's audit log."""
        user = require_role(slug, Role.STEWARD)
        with database().write() as session:
            pot = lock_pot(session, slug)
            rulebook.change_rules(session, pot, body, user_id=user.id, actor=f"user:{user.id}")
            return _json(rulebook.rules_in_force(session, pot))


@blp.route("/<slug>/rules/history")
class RulesHistory(MethodView):
    @blp.response(200, RulesHistorySchema)
    def get(self, slug: str) -> dict[str, Any]:
        """Every version of the rules, oldest first."""
        with database().read() as session:
            return {"items": [_json(v) for v in rulebook.history(session, get_pot(session, slug))]}
