"""Participatory-budgeting rounds: create, propose, review, vote (or pledge), results, export.

Views parse, check who is asking, call one service function of ``ledger.rounds`` in one unit
of work and shape the answer. Results are aggregate only: tallies and the explanation, never
who approved what; a member sees only their own ballot.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Response, current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate, validates_schema
from marshmallow.exceptions import ValidationError

from app.api.access import role_required
from app.api.schemas import MoneySchema, StrictSchema, minor_units
from app.auth import require_role, require_user
from app.extensions import database
from app.idempotency import idempotent
from ledger import pots as ledger_pots
from ledger.errors import Conflict, InvalidInput
from ledger.money import MAX_AMOUNT
from ledger.pb.rounds import BallotLimits, Phase, RoundSchedule, phase_at
from ledger.people.models import Role
from ledger.rounds import reading, services, settlement
from ledger.rounds.models import (
    KIND_VALUES,
    MAX_OC_SLUG,
    MAX_PAYEE,
    MAX_REASON,
    MAX_SUMMARY,
    MAX_TITLE,
    RULE_VALUES,
    Kind,
)
from ledger.timestamps import utcnow

blp = Blueprint("rounds", __name__, description="Participatory-budgeting rounds")
F = TypeVar("F", bound=Callable[..., Any])


class RoundScheduleInSchema(StrictSchema):
    proposals_open = fields.AwareDateTime(required=True)
    review_starts = fields.AwareDateTime(required=True)
    voting_starts = fields.AwareDateTime(required=True)
    results_at = fields.AwareDateTime(required=True)
    funded_at = fields.AwareDateTime(required=True)


class RoundLimitsInSchema(StrictSchema):
    min_projects = fields.Integer(strict=True, load_default=1, validate=validate.Range(min=1))
    max_projects = fields.Integer(
        strict=True, load_default=None, allow_none=True, validate=validate.Range(min=1)
    )
    max_cost = minor_units(load_default=None, allow_none=True)


class RoundInSchema(StrictSchema):
    title = fields.String(required=True, validate=validate.Length(min=1, max=MAX_TITLE))
    description = fields.String(load_default="", validate=validate.Length(max=MAX_SUMMARY))
    kind = fields.String(load_default=Kind.APPROVAL.value, validate=validate.OneOf(KIND_VALUES))
    rule = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.OneOf(RULE_VALUES),
        metadata={"description": "Approval rounds only; default mes_add1"},
    )
    budget = minor_units(required=True)
    schedule = fields.Nested(RoundScheduleInSchema, required=True)
    ballot_limits = fields.Nested(
        RoundLimitsInSchema, load_default=lambda: RoundLimitsInSchema().load({})
    )


class RoundPayeeInSchema(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=MAX_PAYEE))
    opencollective = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(min=1, max=MAX_OC_SLUG)
    )


class RoundProjectInSchema(StrictSchema):
    title = fields.String(required=True, validate=validate.Length(min=1, max=MAX_TITLE))
    summary = fields.String(load_default="", validate=validate.Length(max=MAX_SUMMARY))
    cost = minor_units(load_default=None, metadata={"description": "Approval rounds: its cost"})
    minimum = minor_units(load_default=None, metadata={"description": "Co-funding: what it needs"})
    maximum = minor_units(load_default=None, metadata={"description": "Co-funding: at most this"})
    payee = fields.Nested(RoundPayeeInSchema, required=True)

    @validates_schema
    def _cost_or_range(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("cost") is None and data.get("maximum") is None:
            raise ValidationError("give the cost (approval rounds) or minimum and maximum")
        if data.get("cost") is not None and data.get("maximum") is not None:
            raise ValidationError("give either the cost or the minimum and maximum, not both")


class RoundReviewInSchema(StrictSchema):
    eligible = fields.Boolean(required=True)
    reason = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=MAX_REASON)
    )


class RoundBallotInSchema(StrictSchema):
    projects = fields.List(
        fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_AMOUNT)),
        required=True,
        validate=validate.Length(max=1000),
        metadata={"description": "Ids of the projects you approve"},
    )


class RoundPledgeInSchema(StrictSchema):
    project = fields.Integer(strict=True, required=True, validate=validate.Range(min=1))
    amount = minor_units(required=True)


class RoundPledgesInSchema(StrictSchema):
    pledges = fields.List(
        fields.Nested(RoundPledgeInSchema), required=True, validate=validate.Length(max=1000)
    )


class RoundSchema(Schema):
    id = fields.Integer(required=True)
    pot = fields.String(required=True)
    title = fields.String(required=True)
    description = fields.String(required=True)
    kind = fields.String(required=True)
    rule = fields.String(allow_none=True)
    budget = fields.Nested(MoneySchema, required=True)
    phase = fields.String(required=True, metadata={"description": "Where it is by the clock"})
    schedule = fields.Dict(required=True)
    ballot_limits = fields.Dict(required=True)
    share = fields.Nested(
        MoneySchema, allow_none=True, metadata={"description": "Co-funding: each member's share"}
    )
    ballots = fields.Integer(required=True, metadata={"description": "Ballots (or pledgers)"})
    counted = fields.Boolean(required=True)
    funded = fields.Boolean(required=True)
    budget_entry_seq = fields.Integer(required=True)
    settlement_entry_seq = fields.Integer(allow_none=True)
    created_at = fields.String(required=True)


class RoundListSchema(Schema):
    items = fields.List(fields.Nested(RoundSchema), required=True)


class RoundProjectSchema(Schema):
    id = fields.Integer(required=True)
    round = fields.Integer(required=True)
    title = fields.String(required=True)
    summary = fields.String(required=True)
    cost = fields.Nested(MoneySchema, allow_none=True)
    minimum = fields.Nested(MoneySchema, allow_none=True)
    maximum = fields.Nested(MoneySchema, allow_none=True)
    payee = fields.Dict(required=True)
    proposer = fields.Dict(required=True)
    created_at = fields.String(required=True)
    review = fields.String(required=True, metadata={"description": "pending, eligible, ineligible"})
    review_reason = fields.String(allow_none=True)
    approvals = fields.Integer(allow_none=True, metadata={"description": "Public tally"})
    pledged = fields.Nested(MoneySchema, allow_none=True)
    pledgers = fields.Integer(allow_none=True)
    proposal = fields.Integer(allow_none=True, metadata={"description": "Funded proposal"})


class RoundProjectListSchema(Schema):
    items = fields.List(fields.Nested(RoundProjectSchema), required=True)


class RoundBallotSchema(Schema):
    round = fields.Integer(required=True)
    projects = fields.List(
        fields.Integer(), allow_none=True, metadata={"description": "None: no ballot"}
    )
    pledges = fields.List(fields.Dict(), allow_none=True)
    cast_at = fields.String(allow_none=True)
    changed_at = fields.String(allow_none=True)


class RoundResultSchema(Schema):
    round = fields.Integer(required=True)
    kind = fields.String(required=True)
    rule = fields.String(allow_none=True)
    counted_at = fields.String(required=True)
    voters = fields.Integer(required=True)
    budget = fields.Nested(MoneySchema, required=True)
    spent = fields.Nested(MoneySchema, required=True)
    unspent = fields.Nested(MoneySchema, required=True)
    winners = fields.List(fields.Dict(), required=True)
    funded = fields.Boolean(required=True)
    summary = fields.String(required=True)
    explanation = fields.Dict(
        required=True,
        metadata={"description": "Per project: approvals, cost, won, how supporters paid, why"},
    )


def ballot_key() -> bytes:
    """The key that names ballot rows (see ``ledger.rounds.services.voter_key``)."""
    secret = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(secret, b"commonpot round ballot key v1", hashlib.sha256).digest()


def _slug_of(round_id: int) -> str:
    with database().read() as session:
        round_ = services.get_round(session, round_id)
        return services.pot_of(session, round_).slug


def role_in_its_pot(*roles: Role) -> Callable[[F], F]:
    """Like :func:`app.api.access.role_required`, for views named by ``round_id``: 401 without
    a valid token, then 404 for an unknown round, then 403 unless the user holds one of
    ``roles`` in the round's pot (any role when none are given). Put it outermost, above
    ``@blp.arguments``, so the caller is checked before the body is read."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            require_user()
            require_role(_slug_of(kwargs["round_id"]), *roles)
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def _round_json(session: Any, round_: Any) -> dict[str, Any]:
    pot = services.pot_of(session, round_)
    return reading.describe_round(session, pot, round_, now=utcnow())


@blp.route("/pots/<slug>/rounds")
class PotRounds(MethodView):
    @blp.response(200, RoundListSchema)
    def get(self, slug: str) -> dict[str, Any]:
        """The pot's rounds, oldest first, each with its phase by the clock."""
        with database().read() as session:
            pot = ledger_pots.get_pot(session, slug)
            now = utcnow()
            rounds = services.list_rounds(session, pot)
            return {"items": reading.describe_rounds(session, pot, rounds, now=now)}

    @role_required(Role.STEWARD)
    @idempotent
    @blp.arguments(RoundInSchema)
    @blp.response(201, RoundSchema)
    def post(self, body: dict[str, Any], slug: str) -> dict[str, Any]:
        """Create a round (stewards): its budget is reserved from available at once."""
        user = require_user()
        limits = body["ballot_limits"]
        kind = body["kind"]
        spec = services.RoundSpec(
            title=body["title"],
            description=body["description"],
            kind=kind,
            rule=(body["rule"] or "mes_add1") if kind == Kind.APPROVAL else body["rule"],
            budget=body["budget"],
            schedule=RoundSchedule(**body["schedule"]),
            limits=BallotLimits(limits["min_projects"], limits["max_projects"], limits["max_cost"]),
        )
        if kind == Kind.COFUNDING and body["rule"] is not None:
            raise InvalidInput("rule: a co-funding round has none; members' pledges decide")
        with database().write() as session:
            round_ = services.create_round(session, slug, spec, user_id=user.id, now=utcnow())
            return _round_json(session, round_)


@blp.route("/rounds/<int:round_id>")
@blp.response(200, RoundSchema)
def get_round(round_id: int) -> dict[str, Any]:
    """One round, with its phase by the clock and whether it was counted and funded."""
    with database().read() as session:
        return _round_json(session, services.get_round(session, round_id))


@blp.route("/rounds/<int:round_id>/projects")
class RoundProjects(MethodView):
    @blp.response(200, RoundProjectListSchema)
    def get(self, round_id: int) -> dict[str, Any]:
        """The round's projects with their review and public tallies."""
        with database().read() as session:
            round_ = services.get_round(session, round_id)
            pot = services.pot_of(session, round_)
            return {"items": reading.describe_projects(session, pot, round_)}

    @role_in_its_pot()
    @idempotent
    @blp.arguments(RoundProjectInSchema)
    @blp.response(201, RoundProjectSchema)
    def post(self, body: dict[str, Any], round_id: int) -> dict[str, Any]:
        """Propose a project (members, during the proposals phase)."""
        user = require_user()
        draft = services.ProjectDraft(
            title=body["title"],
            summary=body["summary"],
            cost=body["cost"] if body["cost"] is not None else body["maximum"],
            minimum=body["minimum"],
            payee_name=body["payee"]["name"],
            payee_oc_slug=body["payee"]["opencollective"],
        )
        with database().write() as session:
            project = services.submit_project(
                session, round_id, draft, user_id=user.id, now=utcnow()
            )
            round_ = services.get_round(session, round_id)
            pot = services.pot_of(session, round_)
            return reading.describe_project(session, pot, round_, project)


@blp.route("/rounds/<int:round_id>/projects/<int:project_id>/review", methods=["POST"])
@role_in_its_pot(Role.STEWARD)
@blp.arguments(RoundReviewInSchema)
@blp.response(200, RoundProjectSchema)
def review_project(body: dict[str, Any], round_id: int, project_id: int) -> dict[str, Any]:
    """Mark a project eligible or not, with a reason (stewards, during review)."""
    user = require_user()
    with database().write() as session:
        project = services.review_project(
            session,
            round_id,
            project_id,
            eligible=body["eligible"],
            reason=body["reason"],
            user_id=user.id,
            now=utcnow(),
        )
        round_ = services.get_round(session, round_id)
        return reading.describe_project(session, services.pot_of(session, round_), round_, project)


def _my_ballot(session: Any, round_id: int, user_id: int) -> dict[str, Any]:
    round_ = services.get_round(session, round_id)
    answer: dict[str, Any] = {
        "round": round_.id,
        "projects": None,
        "pledges": None,
        "cast_at": None,
        "changed_at": None,
    }
    if round_.kind == Kind.COFUNDING:
        mine = services.my_pledges(session, round_, user_id, ballot_key())
        pot = services.pot_of(session, round_)
        answer["pledges"] = [
            {"project": p, "amount": {"amount": a, "currency": pot.currency}}
            for p, a in mine.items()
        ]
        return answer
    ballot = services.my_ballot(session, round_, user_id, ballot_key())
    if ballot is not None:
        answer["projects"] = services.approved_by(session, ballot)
        answer["cast_at"] = reading._time(ballot.cast_at)
        answer["changed_at"] = reading._time(ballot.changed_at)
    return answer


@blp.route("/rounds/<int:round_id>/ballot")
class MyBallot(MethodView):
    @role_in_its_pot()
    @blp.response(200, RoundBallotSchema)
    def get(self, round_id: int) -> dict[str, Any]:
        """Your own ballot (or pledges) in the round; nobody else's is ever shown."""
        user = require_user()
        with database().read() as session:
            return _my_ballot(session, round_id, user.id)

    @role_in_its_pot()
    @blp.arguments(RoundBallotInSchema)
    @blp.response(200, RoundBallotSchema)
    def put(self, body: dict[str, Any], round_id: int) -> dict[str, Any]:
        """Cast or change your approval ballot while voting is open (members who joined
        before voting opened); checked against the round's limits."""
        user = require_user()
        with database().write() as session:
            services.cast_ballot(
                session,
                round_id,
                body["projects"],
                user_id=user.id,
                ballot_key=ballot_key(),
                now=utcnow(),
            )
            return _my_ballot(session, round_id, user.id)

    @role_in_its_pot()
    @blp.response(204)
    def delete(self, round_id: int) -> None:
        """Withdraw your ballot (or pledges) while voting is open."""
        user = require_user()
        with database().write() as session:
            services.withdraw_ballot(
                session, round_id, user_id=user.id, ballot_key=ballot_key(), now=utcnow()
            )


@blp.route("/rounds/<int:round_id>/pledges", methods=["PUT"])
@role_in_its_pot()
@blp.arguments(RoundPledgesInSchema)
@blp.response(200, RoundBallotSchema)
def put_pledges(body: dict[str, Any], round_id: int) -> dict[str, Any]:
    """Co-funding rounds: replace your pledges (at most your share in all, never beyond a
    project's maximum) while voting is open."""
    user = require_user()
    pledges: dict[int, int] = {}
    for item in body["pledges"]:
        pledges[item["project"]] = pledges.get(item["project"], 0) + item["amount"]
    with database().write() as session:
        services.set_pledges(
            session, round_id, pledges, user_id=user.id, ballot_key=ballot_key(), now=utcnow()
        )
        return _my_ballot(session, round_id, user.id)


def _counted(round_id: int) -> None:
    """Results are due once voting closes: count (and fund, when due) on first read, as
    ``commonpot rounds advance`` would."""
    now = utcnow()
    with database().read() as session:
        round_ = services.get_round(session, round_id)
        due = phase_at(services.schedule_of(round_), now) in (Phase.RESULTS, Phase.FUNDED)
        if not due:
            raise _NotYet(
                f"round #{round_.id} is counted when voting closes, at "
                f"{reading._time(round_.results_at)}"
            )
        counted = settlement.stored_result(session, round_) is not None
        settled = round_.funded or phase_at(services.schedule_of(round_), now) is Phase.RESULTS
        slug = services.pot_of(session, round_).slug
    if not (counted and settled):
        with database().write() as session:
            settlement.advance(session, slug, now=now)


class _NotYet(Conflict):
    title = "Results not yet available"


@blp.route("/rounds/<int:round_id>/results")
@blp.response(200, RoundResultSchema)
def results(round_id: int) -> dict[str, Any]:
    """The result with its explanation per project: approvals, cost, whether it won, how its
    supporters paid (counts and amounts, never names) and why a losing project could not be
    afforded."""
    _counted(round_id)
    with database().read() as session:
        round_ = services.get_round(session, round_id)
        result = settlement.stored_result(session, round_)
        assert result is not None
        return reading.describe_result(session, services.pot_of(session, round_), round_, result)


@blp.route("/rounds/<int:round_id>/export.pb")
@blp.response(200, content_type="text/plain")
def export_pb(round_id: int) -> Response:
    """The counted round as a pabulib ``.pb`` file: projects, anonymous ballots, winners."""
    _counted(round_id)
    with database().read() as session:
        round_ = services.get_round(session, round_id)
        result = settlement.stored_result(session, round_)
        assert result is not None
        if result.pb_text is None:
            raise Conflict("a co-funding round has no pabulib export (pabulib holds ballots)")
        response = Response(result.pb_text, mimetype="text/plain")
        response.headers["Content-Disposition"] = f'attachment; filename="round-{round_id}.pb"'
        return response
