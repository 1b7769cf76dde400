"""Pots and their entries, read-only and public."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint, abort

from app.api.access import role_required
from app.auth import require_user
from app.extensions import database
from app.idempotency import idempotent
from ledger import entries as ledger_entries
from ledger import pots as ledger_pots
from ledger.governance import treasury
from ledger.models import Pot
from ledger.people.membership import count_members
from ledger.people.models import Role

from .schemas import (
    EntryInSchema,
    EntryPageSchema,
    EntryQuerySchema,
    EntrySchema,
    PotListSchema,
    PotSchema,
)

blp = Blueprint("pots", __name__, description="Pots, their balances and their ledger entries")


def pot_json(summary: ledger_pots.PotSummary, *, members: int) -> dict[str, Any]:
    def money(amount: int) -> dict[str, Any]:
        return {"amount": amount, "currency": summary.currency}

    return {
        "slug": summary.slug,
        "name": summary.name,
        "currency": summary.currency,
        "entry_count": summary.entry_count,
        "member_count": members,
        "head": {"seq": summary.entry_count, "hash": summary.head_hash},
        "totals": {
            "held": money(summary.held),
            "available": money(summary.available),
            "committed": money(summary.committed),
            "received": money(summary.received),
            "paid_out": money(summary.paid_out),
            "fees": money(summary.fees),
        },
        "balances": {account: money(v) for account, v in sorted(summary.balances.items())},
    }


def encode_cursor(after: int) -> str:
    return base64.urlsafe_b64encode(f"seq:{after}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        prefix, _, number = raw.partition(":")
        if prefix != "seq" or not number.isdigit() or len(number) > 18:
            raise ValueError(raw)
        return int(number)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        abort(400, message=f"cursor {cursor!r} is not one this API gave out")
        raise  # abort() always raises; this tells type checkers so


@blp.route("")
class Pots(MethodView):
    @blp.response(200, PotListSchema)
    def get(self) -> dict[str, Any]:
        """List every pot with its balances."""
        with database().read() as session:
            return {
                "items": [
                    pot_json(
                        ledger_pots.summarise(session, pot),
                        members=count_members(session, pot.id),
                    )
                    for pot in ledger_pots.list_pots(session)
                ]
            }


@blp.route("/<slug>")
class PotDetail(MethodView):
    @blp.response(200, PotSchema)
    def get(self, slug: str) -> dict[str, Any]:
        """A pot's balance per account, its entry count and the head of its hash chain."""
        with database().read() as session:
            pot = ledger_pots.get_pot(session, slug)
            return pot_json(
                ledger_pots.summarise(session, pot), members=count_members(session, pot.id)
            )


@blp.route("/<slug>/entries")
class Entries(MethodView):
    @role_required(Role.TREASURER)
    @idempotent
    @blp.arguments(EntryInSchema)
    @blp.response(201, EntrySchema)
    def post(self, body: dict[str, Any], slug: str) -> dict[str, Any]:
        """Record money in or out by hand (treasurers). Money arriving funds the approved
        proposals waiting for it, in approval order."""
        user = require_user()
        key = request.headers.get("Idempotency-Key")
        kind = body["kind"]
        with database().write() as session:
            recorded = treasury.record_money(
                session,
                slug,
                kind,
                body["amount"],
                memo=body["memo"],
                actor=f"user:{user.id}",
                external_ref=body.get("external_ref"),
                idempotency_key=None if key is None else f"api:{user.id}:{key}",
                direction=body.get("direction", "increase") if kind == "adjustment" else None,
            )
            pot = ledger_pots.get_pot(session, slug)
            return ledger_entries.entry_record(pot, recorded.entry)

    @blp.arguments(EntryQuerySchema, location="query", as_kwargs=True)
    @blp.response(200, EntryPageSchema)
    def get(self, slug: str, limit: int, cursor: str | None = None, **filters: Any) -> dict:
        """Entries in sequence order, a page at a time, optionally filtered by kind and date."""
        after = decode_cursor(cursor) if cursor else 0
        with database().read() as session:
            pot = ledger_pots.get_pot(session, slug)
            page = ledger_entries.list_entries(
                session, pot, after=after, limit=limit, flt=ledger_entries.EntryFilter(**filters)
            )
            return {
                "items": [ledger_entries.entry_record(pot, e) for e in page.entries],
                "next_cursor": encode_cursor(page.next_after) if page.next_after else None,
            }


@blp.route("/<slug>/entries/<int(signed=True):seq>")
class EntryDetail(MethodView):
    @blp.response(200, EntrySchema)
    def get(self, slug: str, seq: int) -> dict[str, Any]:
        """One entry with its postings, its hash and the hash before it."""
        with database().read() as session:
            pot: Pot = ledger_pots.get_pot(session, slug)
            return ledger_entries.entry_record(pot, ledger_entries.get_entry(session, pot, seq))
