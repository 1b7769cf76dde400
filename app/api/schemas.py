"""Marshmallow schemas of the API's bodies. Money is always {amount: minor units, currency}."""

from __future__ import annotations

from typing import Any

from marshmallow import INCLUDE, RAISE, Schema, fields, validate

from ledger.entries import MAX_PAGE
from ledger.journal import KINDS, MAX_MEMO, MAX_REF
from ledger.money import MAX_AMOUNT


def minor_units(**kwargs: Any) -> fields.Integer:
    """An amount of money in integer minor units: strict, so "250" and 2.5 are refused."""
    kwargs.setdefault(
        "metadata", {"description": "Integer minor units of the pot's currency (pence for GBP)"}
    )
    return fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_AMOUNT), **kwargs)


class StrictSchema(Schema):
    """A request body: an unknown field is an error, not silently ignored."""

    class Meta:
        unknown = RAISE


class ProblemSchema(Schema):
    """RFC 9457 problem details; some problems add members (e.g. ``account`` and ``balance``)."""

    class Meta:
        unknown = INCLUDE

    type = fields.String(required=True, metadata={"example": "/problems/insufficient-funds"})
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String()
    instance = fields.String()
    errors = fields.Dict(metadata={"description": "Invalid fields, by location and name"})


class MoneySchema(Schema):
    amount = fields.Integer(required=True, metadata={"description": "Integer minor units"})
    currency = fields.String(required=True, metadata={"example": "GBP"})


class HeadSchema(Schema):
    seq = fields.Integer(required=True)
    hash = fields.String(required=True)


class TotalsSchema(Schema):
    held = fields.Nested(MoneySchema, required=True)
    available = fields.Nested(MoneySchema, required=True)
    committed = fields.Nested(MoneySchema, required=True)
    received = fields.Nested(MoneySchema, required=True)
    paid_out = fields.Nested(MoneySchema, required=True)
    fees = fields.Nested(MoneySchema, required=True)


class PotSchema(Schema):
    slug = fields.String(required=True)
    name = fields.String(required=True)
    currency = fields.String(required=True)
    entry_count = fields.Integer(required=True)
    member_count = fields.Integer(required=True, metadata={"description": "Members of any role"})
    head = fields.Nested(HeadSchema, required=True)
    totals = fields.Nested(TotalsSchema, required=True)
    balances = fields.Dict(
        keys=fields.String(),
        values=fields.Nested(MoneySchema),
        required=True,
        metadata={"description": "Signed balance per account (debit positive)"},
    )


class PotListSchema(Schema):
    items = fields.List(fields.Nested(PotSchema), required=True)


class PostingSchema(Schema):
    account = fields.String(required=True)
    amount = fields.Integer(required=True, metadata={"description": "Signed minor units"})
    currency = fields.String(required=True)


class EntrySchema(Schema):
    seq = fields.Integer(required=True)
    time = fields.String(required=True, metadata={"description": "RFC 3339 UTC"})
    kind = fields.String(required=True)
    memo = fields.String(required=True)
    actor = fields.String(required=True)
    external_ref = fields.String(allow_none=True, required=True)
    reverses = fields.Integer(allow_none=True, required=True)
    data = fields.Dict(required=True)
    postings = fields.List(fields.Nested(PostingSchema), required=True)
    prev_hash = fields.String(required=True)
    hash = fields.String(required=True)


class EntryPageSchema(Schema):
    items = fields.List(fields.Nested(EntrySchema), required=True)
    next_cursor = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "Pass as `cursor` to get the next page; null on the last"},
    )


class EntryQuerySchema(Schema):
    cursor = fields.String(metadata={"description": "Opaque cursor from a previous page"})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_PAGE))
    kind = fields.String(validate=validate.OneOf(KINDS))
    since = fields.Date(metadata={"description": "First UTC day included (YYYY-MM-DD)"})
    until = fields.Date(metadata={"description": "Last UTC day included (YYYY-MM-DD)"})


class EntryInSchema(StrictSchema):
    """Money a treasurer records by hand (allocations and releases come from decisions)."""

    kind = fields.String(
        required=True,
        validate=validate.OneOf(["contribution", "refund", "fee", "payout", "adjustment"]),
    )
    amount = minor_units(required=True)
    memo = fields.String(required=True, validate=validate.Length(min=1, max=MAX_MEMO))
    external_ref = fields.String(validate=validate.Length(min=1, max=MAX_REF))
    direction = fields.String(
        validate=validate.OneOf(["increase", "decrease"]),
        metadata={"description": "Adjustments only: of the available money (default increase)"},
    )
