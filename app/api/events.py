"""A pot's governance audit log, public: every decision-making event, hash-chained.

Actors are public (``user:12``, with that person's display name, or ``cli`` for the operator);
emails never appear. Under a secret ballot the log holds no voter and no choice to show.
"""

from __future__ import annotations

import re
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from app.extensions import database
from ledger import audit
from ledger import pots as ledger_pots
from ledger.audit.models import AuditEvent
from ledger.people.models import User

blp = Blueprint("events", __name__, description="The governance audit log of a pot")

MAX_PAGE = 500
_USER_ACTOR = re.compile(r"^user:([0-9]{1,18})$")


class EventQuerySchema(Schema):
    after = fields.Integer(
        load_default=0,
        validate=validate.Range(min=0, max=2**63 - 1),
        metadata={"description": "Events after this seq (0: from the first)"},
    )
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=MAX_PAGE))


class EventSchema(Schema):
    seq = fields.Integer(required=True)
    recorded_at = fields.String(required=True, metadata={"description": "RFC 3339 UTC"})
    kind = fields.String(required=True, metadata={"example": "member_joined"})
    actor = fields.String(required=True, metadata={"example": "user:12"})
    actor_name = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "The display name of a user actor (not part of the hash)"},
    )
    proposal_id = fields.Integer(allow_none=True, required=True)
    data = fields.Dict(required=True)
    prev_hash = fields.String(required=True)
    hash = fields.String(required=True)


class EventPageSchema(Schema):
    items = fields.List(fields.Nested(EventSchema), required=True)
    next_after = fields.Integer(
        allow_none=True,
        required=True,
        metadata={"description": "Pass as `after` for the next page; null on the last"},
    )


def event_json(event: AuditEvent, names: dict[int, str]) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "recorded_at": event.recorded_at,
        "kind": event.kind,
        "actor": event.actor,
        "actor_name": names.get(_user_id(event.actor) or 0),
        "proposal_id": event.proposal_id,
        "data": audit.event_data(event),
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


def _user_id(actor: str) -> int | None:
    match = _USER_ACTOR.match(actor)
    return int(match.group(1)) if match else None


@blp.route("/pots/<slug>/events")
class Events(MethodView):
    @blp.arguments(EventQuerySchema, location="query", as_kwargs=True)
    @blp.response(200, EventPageSchema)
    def get(self, slug: str, after: int, limit: int) -> dict[str, Any]:
        """The pot's audit log in order, a page at a time. Public.

        Each event's hash covers the event and the hash before it (docs/ledger-format.md
        describes the same chain for ledger entries), so a saved page can be checked later.
        """
        with database().read() as session:
            pot = ledger_pots.get_pot(session, slug)
            page = audit.list_events(session, pot, after=after, limit=limit + 1)
            shown = page[:limit]
            ids = {i for i in (_user_id(e.actor) for e in shown) if i is not None}
            names = {
                row.id: row.display_name
                for row in session.execute(
                    select(User.id, User.display_name).where(User.id.in_(ids))
                )
            }
            return {
                "items": [event_json(e, names) for e in shown],
                "next_after": shown[-1].seq if len(page) > limit else None,
            }
