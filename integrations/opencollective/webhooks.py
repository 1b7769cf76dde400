"""Open Collective webhooks, taken as hints.

Open Collective does not sign its webhooks, puts no secret in them and never retries them. So
the URL carries an unguessable per-pot token (only its SHA-256 is stored), and a webhook never
changes anything by itself: the transaction it names is looked up through the API, checked to
belong to the linked collective, and appended only if the pot does not have it yet. A lost
webhook costs nothing either: the scheduled sync and reconciliation find the transaction.

Outcomes: a wrong token is ``UnknownWebhookToken`` (404), a body that is not a webhook is
``MalformedWebhook`` (400); in both cases nothing was read from Open Collective or written.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import select

from ledger.db import Database
from ledger.errors import LedgerError, NotFound
from ledger.models import Pot

from .client import OpenCollectiveClient
from .errors import OpenCollectiveError, OpenCollectiveNotFound
from .store import OCLink, link_by_token
from .sync import import_transaction

log = logging.getLogger(__name__)

TRANSACTION_CREATED = "collective.transaction.created"
MAX_TOKEN_LENGTH = 200


class UnknownWebhookToken(NotFound):
    title = "Unknown webhook"


class MalformedWebhook(LedgerError):
    """Not an Open Collective webhook body (answered 400: no ledger meaning applies)."""

    title = "Malformed webhook"


@dataclass(frozen=True)
class WebhookOutcome:
    status: Literal["recorded", "duplicate", "ignored", "deferred"]
    detail: str
    seq: int | None = None


@dataclass(frozen=True)
class WebhookEvent:
    type: str
    transaction_legacy_id: int | None  # for collective.transaction.created


def parse_event(body: bytes) -> WebhookEvent:
    """Check the shape Open Collective sends: ``{id, type, CollectiveId, createdAt, data}``."""
    try:
        payload: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise MalformedWebhook("the body is not JSON") from None
    if not isinstance(payload, Mapping):
        raise MalformedWebhook("the body is not a JSON object")
    event_type = payload.get("type")
    if not isinstance(event_type, str) or not event_type.strip():
        raise MalformedWebhook("the webhook has no 'type'")
    if event_type != TRANSACTION_CREATED:
        return WebhookEvent(event_type, None)
    data = payload.get("data")
    transaction = data.get("transaction") if isinstance(data, Mapping) else None
    legacy_id = transaction.get("id") if isinstance(transaction, Mapping) else None
    if isinstance(legacy_id, bool) or not isinstance(legacy_id, int) or legacy_id <= 0:
        raise MalformedWebhook(f"{TRANSACTION_CREATED} needs data.transaction.id, an integer")
    return WebhookEvent(event_type, legacy_id)


def handle_webhook(
    db: Database,
    token: str,
    body: bytes,
    open_client: Callable[[], OpenCollectiveClient],
) -> WebhookOutcome:
    """Act on one webhook delivery. ``open_client`` makes a client with short timeouts: the
    lookup happens while Open Collective waits for our answer."""
    slug, collective = _linked_pot(db, token)
    event = parse_event(body)
    if event.transaction_legacy_id is None:
        return WebhookOutcome("ignored", f"{event.type} events are not used")
    try:
        with open_client() as client:
            tx = client.get_transaction(legacy_id=event.transaction_legacy_id)
    except OpenCollectiveNotFound:
        return WebhookOutcome("ignored", "Open Collective does not know that transaction")
    except OpenCollectiveError as exc:
        log.warning("webhook for %s: lookup failed, left to the next sync: %s", slug, exc)
        return WebhookOutcome("deferred", "Open Collective could not be asked; the sync will")
    if tx.account is None or tx.account.slug != collective:
        return WebhookOutcome("ignored", f"the transaction is not {collective!r}'s")
    try:
        imported = import_transaction(db, slug, tx)
    except LedgerError as exc:
        # E.g. a currency the pot does not hold: the sync meets the same row and stops with the
        # reason on record, where treasurers look.
        log.warning("webhook for %s: %s: %s", slug, exc.title, exc.detail)
        return WebhookOutcome("deferred", f"{exc.title}; the sync will report it")
    if imported.status == "recorded":
        return WebhookOutcome("recorded", f"entry #{imported.seq}", imported.seq)
    if imported.status == "empty":
        return WebhookOutcome("ignored", "the transaction moves no money")
    return WebhookOutcome("duplicate", "already in the ledger")


def _linked_pot(db: Database, token: str) -> tuple[str, str]:
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise UnknownWebhookToken("no pot has this webhook address")
    with db.read() as session:
        link: OCLink | None = link_by_token(session, token)
        if link is None:
            raise UnknownWebhookToken("no pot has this webhook address")
        slug = session.scalars(select(Pot.slug).where(Pot.id == link.pot_id)).one()
        return slug, link.collective_slug
