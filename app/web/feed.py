"""An Atom feed (RFC 4287) of a pot's payments and decisions, so anyone can follow the money and
what the community decided in a feed reader.

Payments come from the ledger, decisions (a proposal decided, funded, paid in full) from the
pot's audit log; each source gives its newest items by an index on ``(pot_id, seq)``, and the
feed shows the newest of both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC

from flask import Blueprint, Response, render_template, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.extensions import database
from app.web import queries
from app.web.formatting import kind_label, money_filter, moved
from ledger import audit
from ledger import pots as ledger_pots
from ledger.audit.models import AuditEvent
from ledger.chain import format_timestamp
from ledger.governance.models import Proposal
from ledger.models import Entry, Pot

blp = Blueprint("feed", __name__)

FEED_KINDS = ("contribution", "refund", "payout", "payout_refund")
DECISION_KINDS = ("proposal_decided", "proposal_funded", "proposal_paid")
FEED_LENGTH = 50


@dataclass(frozen=True)
class FeedItem:
    id: str
    title: str
    updated: str  # RFC 3339, as recorded (the same strings sort in time order)
    link: str
    category: str
    summary: str


@blp.get("/pots/<slug>/feed.atom")
def atom(slug: str) -> Response:
    with database().read() as session:
        pot = ledger_pots.get_pot(session, slug)
        entries = queries.latest_entries(session, pot, kinds=FEED_KINDS, limit=FEED_LENGTH)
        items = [_payment(pot, e) for e in entries] + _decisions(session, pot)
        items = sorted(items, key=lambda i: i.updated, reverse=True)[:FEED_LENGTH]
        created = pot.created_at
        if created.tzinfo is None:  # SQLite keeps no zone; we store UTC
            created = created.replace(tzinfo=UTC)
        updated = items[0].updated if items else format_timestamp(created)
    body = render_template("feed.xml", pot=pot, items=items, updated=updated)
    return Response(body, mimetype="application/atom+xml")


def _payment(pot: Pot, entry: Entry) -> FeedItem:
    link = url_for("web.ledger.entry", slug=pot.slug, seq=entry.seq, _external=True)
    amount = money_filter(moved(entry), pot.currency)
    kind = kind_label(entry.kind)
    return FeedItem(
        id=link,
        title=f"{kind.capitalize()} of {amount}: {entry.memo}",
        updated=entry.recorded_at,
        link=link,
        category=entry.kind,
        summary=f"Entry #{entry.seq} in the ledger of {pot.name}: {kind} of {amount}. "
        f"{entry.memo} Hash {entry.hash}.",
    )


def _decisions(session: Session, pot: Pot) -> list[FeedItem]:
    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.pot_id == pot.id, AuditEvent.kind.in_(DECISION_KINDS))
        .order_by(AuditEvent.seq.desc())
        .limit(FEED_LENGTH)
    ).all()
    wanted = {e.proposal_id for e in events if e.proposal_id is not None}
    titles: dict[int, str] = (
        dict(
            session.execute(
                select(Proposal.id, Proposal.title).where(Proposal.id.in_(wanted))
            ).all()
        )
        if wanted
        else {}
    )
    return [_decision(pot, e, titles) for e in events if e.proposal_id is not None]


def _decision(pot: Pot, event: AuditEvent, titles: dict[int, str]) -> FeedItem:
    assert event.proposal_id is not None
    data = audit.event_data(event)
    page = url_for(
        "web.proposals.detail", slug=pot.slug, proposal_id=event.proposal_id, _external=True
    )
    name = f"Proposal #{event.proposal_id} ({titles.get(event.proposal_id, '')})"
    if event.kind == "proposal_decided":
        title = f"{name} {data.get('outcome', 'decided')}"
        detail = f"{str(data.get('reason', '')).rstrip('.')}."
    elif event.kind == "proposal_funded":
        amount = money_filter(int(data.get("amount", 0)), pot.currency)
        title = f"{name} funded: {amount} set aside"
        detail = f"Ledger entry #{data.get('entry')} commits {amount} to it."
    else:
        amount = money_filter(int(data.get("paid", 0)), pot.currency)
        title = f"{name} paid in full: {amount}"
        detail = f"The last payment is ledger entry #{data.get('entry')}."
    return FeedItem(
        id=f"{page}#event-{event.seq}",
        title=title,
        updated=event.recorded_at,
        link=page,
        category=event.kind,
        summary=f"{title}. {detail} Audit event #{event.seq}, hash {event.hash}.",
    )
