"""What Commonpot remembers about each pot's Open Collective link, and the small queries on it.

Tables are made by ``migrations/versions/0004_opencollective.py`` (and extended for the push of
funded proposals by ``0007_oc_push.py``); these classes describe them.
Times are stored as the ledger stores them: fixed-width RFC 3339 UTC strings, so SQLite and
PostgreSQL read back exactly what was written.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    case,
    func,
    or_,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from ledger import accounts
from ledger.chain import format_timestamp
from ledger.db import Database
from ledger.errors import Conflict, InvalidInput, NotFound
from ledger.journal import lock_pot
from ledger.models import Base, BigId, Entry, Posting, Pot
from ledger.pots import find_pot

from .accounting import CurrencyMismatch, transaction_id_of
from .client import OpenCollectiveClient
from .errors import OpenCollectiveNotFound

EXPENSE_TYPES = ("GRANT", "INVOICE")  # what the push of funded proposals may create
TOKEN_BYTES = 32  # 256 bits: the webhook token is the only thing guarding the webhook URL


class NotLinked(NotFound):
    title = "Pot not linked to Open Collective"


class CollectiveNotFound(NotFound):
    title = "No such Open Collective account"


class AlreadyLinked(Conflict):
    title = "Pot already linked to another collective"


class OCLink(Base):
    """One pot's link to one Open Collective account, and the state of its sync."""

    __tablename__ = "oc_links"
    __table_args__ = (
        UniqueConstraint("pot_id"),
        UniqueConstraint("webhook_token_hash"),
        CheckConstraint("next_offset >= 0", name="next_offset_non_negative"),
        CheckConstraint("expense_type IN ('GRANT', 'INVOICE')", name="expense_type_known"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    pot_id: Mapped[int] = mapped_column(ForeignKey("pots.id", ondelete="RESTRICT"))
    collective_slug: Mapped[str] = mapped_column(String(255))
    # SHA-256 (hex) of the webhook token: the token itself is shown once and never stored, so a
    # leaked database does not let anyone post hints in a pot's name.
    webhook_token_hash: Mapped[str] = mapped_column(String(64))
    linked_at: Mapped[str] = mapped_column(String(27))
    linked_by: Mapped[str] = mapped_column(String(200))
    # Position in Open Collective's (createdAt ASC, id) listing up to which every transaction
    # has been stored: the next sync starts here.
    next_offset: Mapped[int] = mapped_column(BigInteger, default=0)
    last_synced_at: Mapped[str | None] = mapped_column(String(27))
    # Why the last sync stopped (cleared by the next complete one): never silently lost.
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[str | None] = mapped_column(String(27))
    # Open Collective's `stats.balance` when last read (link, reconcile), in minor units.
    oc_balance: Mapped[int | None] = mapped_column(BigInteger)
    oc_balance_at: Mapped[str | None] = mapped_column(String(27))
    # The push of funded proposals (push.py): the type of the expenses it creates, and why the
    # last push stopped. Kept apart from the sync's ``last_error`` so neither clears the other.
    expense_type: Mapped[str] = mapped_column(String(16), default="GRANT", server_default="GRANT")
    last_pushed_at: Mapped[str | None] = mapped_column(String(27))
    push_error: Mapped[str | None] = mapped_column(Text)
    push_error_at: Mapped[str | None] = mapped_column(String(27))
    # Who is pushing this pot's proposals right now, and until when: held across the calls to
    # Open Collective instead of a database lock (see push.py).
    push_lease_owner: Mapped[str | None] = mapped_column(String(100))
    push_lease_until: Mapped[str | None] = mapped_column(String(27))


class OCResolution(Base):
    """A treasurer's resolution of a reconciliation item: the entry it appended and why.

    Append-only (triggers refuse UPDATE and DELETE), like the ledger: it is the audit trail of
    who decided what about a difference with Open Collective.
    """

    __tablename__ = "oc_resolutions"
    __table_args__ = (
        CheckConstraint("action IN ('import', 'adjust')", name="action"),
        Index("ix_oc_resolutions_pot_transaction", "pot_id", "oc_transaction_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    pot_id: Mapped[int] = mapped_column(ForeignKey("pots.id", ondelete="RESTRICT"))
    item: Mapped[str] = mapped_column(String(210))  # "oc:<transaction uuid>" or "balance"
    oc_transaction_id: Mapped[str | None] = mapped_column(String(100))
    problem: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(16))
    # For an adjustment: its effect on the money held (minor units, signed). Reconciliation adds
    # it to our side of the transaction, so an adjusted difference counts as settled.
    amount: Mapped[int | None] = mapped_column(BigInteger)
    reason: Mapped[str | None] = mapped_column(Text)
    entry_seq: Mapped[int] = mapped_column(BigInteger)
    actor: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[str] = mapped_column(String(27))


class OCExpenseLink(Base):
    """An Open Collective expense Commonpot knows the purpose of.

    Written by the push of funded proposals (push.py), which then follows the expense's status.
    When the sync meets a paid expense listed here with a ``commitment``, the payout comes out of
    that commitment (``committed:<commitment>``) instead of ``available``.
    """

    __tablename__ = "oc_expense_links"
    __table_args__ = (UniqueConstraint("pot_id", "expense_id"), UniqueConstraint("proposal_id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    pot_id: Mapped[int] = mapped_column(ForeignKey("pots.id", ondelete="RESTRICT"))
    expense_id: Mapped[str] = mapped_column(String(100))  # public id, "ex_..."
    expense_legacy_id: Mapped[int | None] = mapped_column(BigInteger)
    commitment: Mapped[str | None] = mapped_column(String(100))  # e.g. "proposal:42"
    status: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[str] = mapped_column(String(27))
    # The proposal whose funding the expense pays: one expense per proposal, ever.
    proposal_id: Mapped[int | None] = mapped_column(ForeignKey("proposals.id", ondelete="RESTRICT"))
    last_checked_at: Mapped[str | None] = mapped_column(String(27))
    # Why the last look at the expense failed, or what needs a treasurer (cleared when fine).
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[str | None] = mapped_column(String(27))


# --- linking -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LinkResult:
    slug: str
    collective: str
    currency: str
    webhook_token: str  # shown once, to be put in the webhook URL; only its hash is kept
    created: bool  # False: the pot was linked to this collective already and got a new token


def link_pot(
    db: Database,
    slug: str,
    collective_slug: str,
    client: OpenCollectiveClient,
    *,
    actor: str,
    expense_type: str | None = None,
) -> LinkResult:
    """Link pot ``slug`` to an Open Collective account in the same currency.

    Linking again to the same collective keeps the sync cursor and replaces the webhook token
    (the way to rotate it); a different collective is refused, since the entries already
    imported came from the first one. ``expense_type`` (GRANT or INVOICE) is the type of the
    expenses pushed for funded proposals: GRANT unless given, kept on a re-link unless given.
    """
    if expense_type is not None and expense_type not in EXPENSE_TYPES:
        raise InvalidInput(f"expense type must be GRANT or INVOICE, not {expense_type!r}")
    try:
        collective = client.get_collective(collective_slug)  # before any lock: a network call
    except OpenCollectiveNotFound:
        raise CollectiveNotFound(
            f"Open Collective has no account {collective_slug!r} (or this token cannot see it)"
        ) from None
    token = new_webhook_token()
    with db.write() as session:
        pot = lock_pot(session, slug)
        if collective.currency != pot.currency:
            raise CurrencyMismatch(
                f"Open Collective account {collective.slug!r} keeps its money in "
                f"{collective.currency} but pot {pot.slug!r} holds {pot.currency}: link a pot "
                "in the same currency"
            )
        link = find_link(session, pot)
        created = link is None
        if link is None:
            link = OCLink(pot_id=pot.id, collective_slug=collective.slug, next_offset=0)
            session.add(link)
        elif link.collective_slug != collective.slug:
            raise AlreadyLinked(
                f"pot {pot.slug!r} is linked to {link.collective_slug!r}; its entries came from "
                "there, so it cannot be linked to another collective"
            )
        if expense_type is not None:
            link.expense_type = expense_type
        elif created:
            link.expense_type = "GRANT"
        link.webhook_token_hash = hash_token(token)
        link.linked_at = now_text()
        link.linked_by = actor
        link.oc_balance = collective.balance_minor
        link.oc_balance_at = now_text()
        return LinkResult(pot.slug, collective.slug, pot.currency, token, created)


# --- queries -------------------------------------------------------------------------------


def now_text(now: datetime | None = None) -> str:
    return format_timestamp(now or datetime.now(UTC))


def new_webhook_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def find_link(session: Session, pot: Pot) -> OCLink | None:
    return session.scalars(select(OCLink).where(OCLink.pot_id == pot.id)).one_or_none()


def get_link(session: Session, pot: Pot) -> OCLink:
    link = find_link(session, pot)
    if link is None:
        raise NotLinked(
            f"pot {pot.slug!r} is not linked to Open Collective "
            f"(run: commonpot oc link {pot.slug} COLLECTIVE)"
        )
    return link


def link_for_slug(session: Session, slug: str) -> tuple[Pot, OCLink]:
    pot = find_pot(session, slug)
    return pot, get_link(session, pot)


def link_by_token(session: Session, token: str) -> OCLink | None:
    return session.scalars(
        select(OCLink).where(OCLink.webhook_token_hash == hash_token(token))
    ).one_or_none()


def linked_slugs(session: Session) -> list[str]:
    return list(
        session.scalars(select(Pot.slug).join(OCLink, OCLink.pot_id == Pot.id).order_by(Pot.slug))
    )


def adjusted_amounts(
    session: Session, pot: Pot, transaction_ids: Collection[str] | None = None
) -> dict[str, int]:
    """Sum of the reconciliation adjustments made for each Open Collective transaction (all of
    the pot's when ``transaction_ids`` is None). A transaction listed here is never imported:
    a treasurer already accounted for it by hand."""
    query = (
        select(OCResolution.oc_transaction_id, func.coalesce(func.sum(OCResolution.amount), 0))
        .where(
            OCResolution.pot_id == pot.id,
            OCResolution.action == "adjust",
            OCResolution.oc_transaction_id.is_not(None),
        )
        .group_by(OCResolution.oc_transaction_id)
    )
    if transaction_ids is not None:
        query = query.where(OCResolution.oc_transaction_id.in_(list(transaction_ids)))
    return {tx_id: int(total or 0) for tx_id, total in session.execute(query) if tx_id is not None}


def expense_commitments(session: Session, pot: Pot, expense_ids: Collection[str]) -> dict[str, str]:
    """Expense id -> commitment, for the expenses among ``expense_ids`` that have one."""
    if not expense_ids:
        return {}
    rows = session.execute(
        select(OCExpenseLink.expense_id, OCExpenseLink.commitment).where(
            OCExpenseLink.pot_id == pot.id,
            OCExpenseLink.expense_id.in_(list(expense_ids)),
            OCExpenseLink.commitment.is_not(None),
        )
    )
    return {expense_id: commitment for expense_id, commitment in rows if commitment}


# --- our side of reconciliation ------------------------------------------------------------


@dataclass(frozen=True)
class Ours:
    """Our side of one Open Collective transaction: its entry and what it did to held money."""

    seq: int
    effect: int  # on available + commitments, reversals included
    reversed: bool


def our_side(session: Session, pot: Pot, refs: Collection[str] | None = None) -> dict[str, Ours]:
    """Each ``oc:`` entry's effect on held money, net of reversals, by external reference.
    Sums are computed by the database: a few values per entry, however many postings."""
    held = case(
        (
            or_(
                Posting.account == accounts.AVAILABLE,
                Posting.account.like(accounts.COMMITTED_PREFIX + "%"),
            ),
            Posting.amount,
        ),
        else_=0,
    )
    query = (
        select(Entry.external_ref, Entry.seq, func.coalesce(func.sum(held), 0))
        .join(Posting, Posting.entry_id == Entry.id)
        .where(Entry.pot_id == pot.id, Entry.external_ref.like("oc:%"))
        .group_by(Entry.id, Entry.external_ref, Entry.seq)
    )
    if refs is not None:
        query = query.where(Entry.external_ref.in_(list(refs)))
    entries = {
        ref: (seq, int(effect))
        for ref, seq, effect in session.execute(query)
        if ref is not None and transaction_id_of(ref)  # LIKE ignores case on SQLite
    }
    reversals = select(Entry.reverses_seq, func.coalesce(func.sum(held), 0)).join(
        Posting, Posting.entry_id == Entry.id
    )
    reversals = reversals.where(
        Entry.pot_id == pot.id, Entry.kind == "reversal", Entry.reverses_seq.is_not(None)
    ).group_by(Entry.id, Entry.reverses_seq)
    if refs is not None:
        reversals = reversals.where(Entry.reverses_seq.in_([s for s, _ in entries.values()]))
    undone = {int(seq): int(effect) for seq, effect in session.execute(reversals)}
    return {
        ref: Ours(seq, effect + undone.get(seq, 0), seq in undone)
        for ref, (seq, effect) in entries.items()
    }
