"""Pull sync: Open Collective's transactions into a pot's ledger, a page per write transaction.

A sync reads the collective's transactions oldest first from the stored cursor (``next_offset``),
and for each page, in one write transaction with the pot locked, appends the entries that are
not there yet and advances the cursor. So:

- it streams: only the current page is held;
- a sync that stops half-way (Open Collective down, a refused entry, SIGTERM) has stored whole
  pages only, and the next one resumes at the cursor;
- two syncs at once (threads, processes, hosts) add nothing twice: inside the lock, rows below
  the stored cursor are skipped, and so is any transaction whose ``oc:<uuid>`` reference already
  has an entry (webhooks append out of order; a listing can shift when Open Collective deletes a
  row).

Why a page may end early: Open Collective gives a contribution and its fee rows the same
``createdAt`` in an order set by their ids, so a fee can come before the money it was taken
from. Within a run of rows sharing a ``createdAt`` CREDITs are booked first, and a page never
splits such a run (its tail is left for the next page), so a fee never overdraws ``available``
while its contribution waits on the next page.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.batch import append_many_locked
from ledger.db import Database, refresh_statistics
from ledger.errors import InvalidInput, LedgerError
from ledger.governance import funding
from ledger.journal import EntryRequest, lock_pot
from ledger.models import Entry, Pot
from ledger.timestamps import utcnow

from .accounting import external_ref, map_transaction
from .client import MAX_PAGE_SIZE, OpenCollectiveClient
from .errors import OpenCollectiveError, describe
from .models import OCTransaction
from .store import (
    adjusted_amounts,
    expense_commitments,
    get_link,
    link_for_slug,
    linked_slugs,
    now_text,
)

log = logging.getLogger(__name__)

# A sync that appends this many entries has PostgreSQL re-read the statistics of the tables it
# grows (see ledger.db.refresh_statistics): a pot's first sync can add tens of thousands.
ANALYZE_EVERY = 5_000
GROWING_TABLES = ("ledger_entries", "ledger_postings", "ledger_merkle_nodes")

DEFAULT_PAGE_SIZE = 100


class SyncFailed(Exception):
    """A sync stopped before the end. The pages before the failure are stored; the reason is
    in the link's ``last_error`` for treasurers to see, and the next sync resumes."""

    def __init__(self, message: str, *, result: SyncResult) -> None:
        super().__init__(message)
        self.message = message
        self.result = result


class ForeignTransaction(InvalidInput):
    title = "Transaction of another collective"


@dataclass
class StoreOutcome:
    """What storing some transactions did: entries appended, rows already there (or settled by
    a reconciliation adjustment), rows that move no money."""

    appended: list[int] = field(default_factory=list)  # seqs
    skipped: int = 0
    empty: int = 0


@dataclass
class SyncResult:
    slug: str
    collective: str
    start_offset: int
    next_offset: int
    pages: int = 0
    fetched: int = 0
    appended: int = 0
    skipped: int = 0

    def add(self, fetched: int, stored: StoreOutcome, next_offset: int) -> None:
        self.pages += 1
        self.fetched += fetched
        self.appended += len(stored.appended)
        self.skipped += stored.skipped + stored.empty
        self.next_offset = next_offset


# --- storing transactions (shared by sync, webhooks and reconciliation imports) -------------


def in_booking_order(txs: Sequence[OCTransaction]) -> list[OCTransaction]:
    """CREDITs before DEBITs among rows with the same createdAt; otherwise Open Collective's
    order (the sort is stable and the listing is already in createdAt order)."""
    return sorted(txs, key=lambda tx: (tx.created_at, tx.type != "CREDIT"))


def append_transactions(session: Session, pot: Pot, txs: Sequence[OCTransaction]) -> StoreOutcome:
    """Append the entries of ``txs`` not in the pot yet, in the given order. The caller holds
    the pot's lock (``lock_pot``), which is what makes the existence checks race-free."""
    outcome = StoreOutcome()
    if not txs:
        return outcome
    refs = [external_ref(tx.id) for tx in txs]
    existing = set(
        session.scalars(
            select(Entry.external_ref).where(Entry.pot_id == pot.id, Entry.external_ref.in_(refs))
        )
    )
    adjusted = adjusted_amounts(session, pot, [tx.id for tx in txs])
    commitments = expense_commitments(
        session, pot, {tx.expense_id for tx in txs if tx.expense_id and tx.kind == "EXPENSE"}
    )
    requests: list[EntryRequest] = []
    for tx in txs:
        ref = external_ref(tx.id)
        # Compared by reference only, never by content: Open Collective lets people edit
        # descriptions, and a changed amount is for reconciliation to show, not to re-import.
        if ref in existing or tx.id in adjusted:
            outcome.skipped += 1
            continue
        commitment = commitments.get(tx.expense_id or "") if tx.kind == "EXPENSE" else None
        request = map_transaction(tx, pot.currency, commitment=commitment)
        if request is None:
            outcome.empty += 1
            continue
        requests.append(request)
        existing.add(ref)
    # One batch for the page: all of it is appended, or (a refusal) none of it.
    new_entries = [result.entry for result in append_many_locked(session, pot, requests)]
    outcome.appended.extend(entry.seq for entry in new_entries)
    if new_entries:
        funding.after_entries(session, pot, new_entries, actor="opencollective", now=utcnow())
    return outcome


@dataclass(frozen=True)
class ImportResult:
    status: Literal["recorded", "duplicate", "empty"]
    seq: int | None = None


def import_transaction(db: Database, slug: str, tx: OCTransaction) -> ImportResult:
    """Append one transaction looked up through the API (webhook hint, reconciliation import).
    The cursor does not move: the sync meets the row later and skips it by its reference."""
    with db.write() as session:
        pot = lock_pot(session, slug)
        link = get_link(session, pot)
        owner = tx.account.slug if tx.account else None
        if owner != link.collective_slug:
            raise ForeignTransaction(
                f"Open Collective transaction {tx.id} belongs to {owner!r}, "
                f"not to {link.collective_slug!r}"
            )
        outcome = append_transactions(session, pot, [tx])
    if outcome.appended:
        return ImportResult("recorded", outcome.appended[0])
    return ImportResult("empty" if outcome.empty else "duplicate")


# --- the sync ------------------------------------------------------------------------------


def sync_pot(
    db: Database,
    slug: str,
    client: OpenCollectiveClient,
    *,
    page_size: int = DEFAULT_PAGE_SIZE,
    should_stop: Callable[[], bool] = lambda: False,
    on_page: Callable[[SyncResult], None] | None = None,
) -> SyncResult:
    """Bring pot ``slug`` up to date with its collective. Raises SyncFailed (after storing the
    reason on the link) when Open Collective or the ledger refuses to go on."""
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidInput(f"page size must be between 1 and {MAX_PAGE_SIZE}")
    with db.read() as session:
        _, link = link_for_slug(session, slug)
        collective, cursor = link.collective_slug, link.next_offset
    result = SyncResult(slug, collective, start_offset=cursor, next_offset=cursor)
    analysed_at = 0  # entries appended by this sync when the statistics were last refreshed
    try:
        while not should_stop():
            page = list(
                itertools.islice(
                    client.iter_transactions(collective, offset=cursor, page_size=page_size),
                    page_size,
                )
            )
            if not page:
                break
            last_page = len(page) < page_size
            batch = page if last_page else _complete_runs(page)
            stored, cursor = _store_page(db, slug, batch)
            result.add(len(batch), stored, cursor)
            if result.appended - analysed_at >= ANALYZE_EVERY:
                refresh_statistics(db.engine, GROWING_TABLES)
                analysed_at = result.appended
            if on_page is not None:
                on_page(result)
            if last_page:
                break
    except Exception as exc:
        # Whatever stopped it (a database failure too) is stored where treasurers look.
        message = f"sync of {slug} stopped at offset {cursor}: {describe(exc)}"
        _record_failure(db, slug, message)
        if isinstance(exc, OpenCollectiveError | LedgerError):
            raise SyncFailed(message, result=result) from exc
        raise
    if not should_stop():
        _record_success(db, slug)
    return result


def _complete_runs(page: Sequence[OCTransaction]) -> Sequence[OCTransaction]:
    """The page without its trailing run of rows sharing one createdAt (which may continue on
    the next page), unless that run is the whole page."""
    last = page[-1].created_at
    cut = len(page)
    while cut > 0 and page[cut - 1].created_at == last:
        cut -= 1
    return page[:cut] if cut > 0 else page


def _store_page(
    db: Database, slug: str, batch: Sequence[OCTransaction]
) -> tuple[StoreOutcome, int]:
    with db.write() as session:
        pot = lock_pot(session, slug)
        link = get_link(session, pot)
        # Rows below the stored cursor were stored by a sync that got the lock first.
        fresh = [tx for tx in batch if tx.offset is not None and tx.offset >= link.next_offset]
        stored = append_transactions(session, pot, in_booking_order(fresh))
        stored.skipped += len(batch) - len(fresh)
        link.next_offset = max(link.next_offset, batch[-1].next_offset)
        link.last_synced_at = now_text()
        return stored, link.next_offset


def _record_failure(db: Database, slug: str, message: str) -> None:
    log.error("%s", message)
    try:
        with db.write() as session:
            _, link = link_for_slug(session, slug)
            link.last_error = message
            link.last_error_at = now_text()
    except Exception:  # the database may be what failed; the log line above still says why
        log.exception("could not store the sync failure of %s", slug)


def _record_success(db: Database, slug: str) -> None:
    with db.write() as session:
        _, link = link_for_slug(session, slug)
        link.last_synced_at = now_text()
        link.last_error = None
        link.last_error_at = None


def pots_to_sync(db: Database) -> list[str]:
    with db.read() as session:
        return linked_slugs(session)
