"""Marshmallow schemas of proposals, votes, payouts and rules on the API."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.api.schemas import MoneySchema, StrictSchema, minor_units
from ledger.governance.models import (
    MAX_CATEGORY,
    MAX_OC_SLUG,
    MAX_PAYEE,
    MAX_REASON,
    MAX_SUMMARY,
    MAX_TITLE,
    STATUS_VALUES,
)
from ledger.money import MAX_AMOUNT


class PayeeInSchema(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=MAX_PAYEE))
    opencollective = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(min=1, max=MAX_OC_SLUG),
        metadata={"description": "The payee's Open Collective account slug"},
    )


class ProposalInSchema(StrictSchema):
    title = fields.String(required=True, validate=validate.Length(min=1, max=MAX_TITLE))
    summary = fields.String(
        load_default="",
        validate=validate.Length(max=MAX_SUMMARY),
        metadata={"description": "Markdown"},
    )
    amount = minor_units(required=True)
    payee = fields.Nested(PayeeInSchema, required=True)
    category = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(min=1, max=MAX_CATEGORY)
    )
    co_proposers = fields.List(
        fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_AMOUNT)),
        load_default=list,
        validate=validate.Length(max=20),
        metadata={"description": "User ids of members proposing it with you"},
    )
    draft = fields.Boolean(
        load_default=False, metadata={"description": "Keep it as a draft instead of opening it"}
    )


class ProposalQuerySchema(StrictSchema):
    status = fields.String(validate=validate.OneOf(STATUS_VALUES))
    category = fields.String(validate=validate.Length(min=1, max=MAX_CATEGORY))
    proposer = fields.Integer(validate=validate.Range(min=1, max=MAX_AMOUNT))
    cursor = fields.String(validate=validate.Length(max=200))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class VoteInSchema(StrictSchema):
    choice = fields.String(required=True, validate=validate.OneOf(["approve", "object", "abstain"]))
    reason = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=MAX_REASON)
    )


class PayoutInSchema(StrictSchema):
    amount = minor_units(required=True)
    memo = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(min=1, max=2000)
    )


class PersonSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)


class TallySchema(Schema):
    approvals = fields.Integer(required=True)
    objections = fields.Integer(required=True)
    abstentions = fields.Integer(required=True)
    steward_approvals = fields.Integer(required=True)


class DecisionSchema(Schema):
    outcome = fields.String(required=True)
    reason = fields.String(required=True)
    decided_at = fields.String(allow_none=True)
    rule_version = fields.Integer(required=True)
    rule_kind = fields.String(required=True)
    tally = fields.Nested(TallySchema, required=True)


class TimelineEventSchema(Schema):
    seq = fields.Integer(required=True)
    at = fields.String(required=True)
    kind = fields.String(required=True)
    actor = fields.String(required=True)
    actor_name = fields.String(allow_none=True)
    data = fields.Dict(required=True)
    hash = fields.String(required=True)


class VoteOutSchema(Schema):
    voter = fields.Nested(PersonSchema, allow_none=True)
    choice = fields.String(required=True)
    reason = fields.String(allow_none=True)
    cast_at = fields.String(required=True)
    changed_at = fields.String(required=True)


class FundingSchema(Schema):
    committed = fields.Nested(MoneySchema, required=True)
    paid = fields.Nested(MoneySchema, required=True)
    entry_seq = fields.Integer(allow_none=True)
    funded_at = fields.String(allow_none=True)
    waiting_position = fields.Integer(
        allow_none=True, metadata={"description": "Place in the queue for funds, 1 = next"}
    )


class ProposalSchema(Schema):
    id = fields.Integer(required=True)
    pot = fields.String(required=True)
    title = fields.String(required=True)
    summary = fields.String(required=True)
    summary_html = fields.String(required=True, metadata={"description": "Sanitised HTML"})
    amount = fields.Nested(MoneySchema, required=True)
    payee = fields.Dict(required=True)
    category = fields.String(allow_none=True)
    status = fields.String(required=True, metadata={"description": "Where it stands now"})
    decision_applied = fields.Boolean(
        required=True,
        metadata={"description": "False while a decision due at the deadline awaits close-due"},
    )
    proposer = fields.Nested(PersonSchema, required=True)
    co_proposers = fields.List(fields.Nested(PersonSchema), required=True)
    created_at = fields.String(required=True)
    opened_at = fields.String(allow_none=True)
    closes_at = fields.String(allow_none=True)
    decided_at = fields.String(allow_none=True)
    rules_version = fields.Integer(allow_none=True)
    ballot = fields.String(allow_none=True)
    tally = fields.Nested(TallySchema, required=True)
    decision = fields.Nested(DecisionSchema, allow_none=True)
    funding = fields.Nested(FundingSchema, required=True)


class ProposalDetailSchema(ProposalSchema):
    timeline = fields.List(fields.Nested(TimelineEventSchema), required=True)
    votes = fields.List(
        fields.Nested(VoteOutSchema),
        allow_none=True,
        metadata={"description": "Who voted how; null under a secret ballot"},
    )
    my_vote = fields.Nested(VoteOutSchema, allow_none=True)


class ProposalPageSchema(Schema):
    items = fields.List(fields.Nested(ProposalSchema), required=True)
    next_cursor = fields.String(allow_none=True)


class PayoutResultSchema(Schema):
    proposal = fields.Nested(ProposalSchema, required=True)
    entry_seq = fields.Integer(required=True)
