"""An Atom feed (RFC 4287) of a pot's payments, so anyone can follow the money in a feed reader.

Decisions join it once proposals exist (issue 3).
"""

from __future__ import annotations

from datetime import UTC

from flask import Blueprint, Response, render_template

from app.extensions import database
from app.web import queries
from ledger import pots as ledger_pots
from ledger.chain import format_timestamp

blp = Blueprint("feed", __name__)

FEED_KINDS = ("contribution", "refund", "payout", "payout_refund")
FEED_LENGTH = 50


@blp.get("/pots/<slug>/feed.atom")
def atom(slug: str) -> Response:
    with database().read() as session:
        pot = ledger_pots.get_pot(session, slug)
        entries = queries.latest_entries(session, pot, kinds=FEED_KINDS, limit=FEED_LENGTH)
        created = pot.created_at
        if created.tzinfo is None:  # SQLite keeps no zone; we store UTC
            created = created.replace(tzinfo=UTC)
        updated = entries[0].recorded_at if entries else format_timestamp(created)
    body = render_template("feed.xml", pot=pot, entries=entries, updated=updated)
    return Response(body, mimetype="application/atom+xml")
