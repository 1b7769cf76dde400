"""Reading a pot's entries: pages by sequence number, filters, and streaming exports."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from ledger.chain import parse_json_object
from ledger.errors import EntryNotFound, InvalidInput
from ledger.models import MAX_SEQ, Entry, Pot
from ledger.money import to_decimal_string

MAX_PAGE = 500


@dataclass(frozen=True)
class EntryFilter:
    kind: str | None = None
    since: date | None = None  # inclusive, UTC day
    until: date | None = None  # inclusive, UTC day


@dataclass(frozen=True)
class EntryPage:
    entries: list[Entry]
    next_after: int | None  # pass as ``after`` for the following page; None on the last page


def _filtered(pot: Pot, flt: EntryFilter) -> Select[Entry]:
    query = select(Entry).where(Entry.pot_id == pot.id)
    if flt.kind is not None:
        query = query.where(Entry.kind == flt.kind)
    # recorded_at is fixed-width RFC 3339 UTC, so string order is time order.
    if flt.since is not None:
        query = query.where(Entry.recorded_at >= flt.since.isoformat())
    if flt.until is not None:
        # Every time on that day starts "YYYY-MM-DDT"; "U" sorts after "T". (Adding a day would
        # overflow on 9999-12-31.)
        query = query.where(Entry.recorded_at < flt.until.isoformat() + "U")
    return query


def list_entries(
    session: Session, pot: Pot, *, after: int = 0, limit: int = 50, flt: EntryFilter | None = None
) -> EntryPage:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}")
    if flt and flt.since and flt.until and flt.since > flt.until:
        raise InvalidInput("'since' is after 'until'")
    query = (
        _filtered(pot, flt or EntryFilter())
        .where(Entry.seq > after)
        .order_by(Entry.seq)
        .limit(limit + 1)
    )
    rows = list(session.scalars(query))
    has_more = len(rows) > limit
    rows = rows[:limit]
    return EntryPage(rows, rows[-1].seq if has_more else None)


def get_entry(session: Session, pot: Pot, seq: int) -> Entry:
    if not 1 <= seq <= MAX_SEQ:  # out of the column's range: cannot exist, don't ask the database
        raise EntryNotFound(f"pot {pot.slug!r} has no entry #{seq}")
    entry = session.scalars(
        select(Entry).where(Entry.pot_id == pot.id, Entry.seq == seq)
    ).one_or_none()
    if entry is None:
        raise EntryNotFound(f"pot {pot.slug!r} has no entry #{seq}")
    return entry


def entry_record(pot: Pot, entry: Entry) -> dict[str, object]:
    """Every stored field of an entry, as exported and as an independent verifier needs it."""
    return {
        "pot": pot.slug,
        "seq": entry.seq,
        "time": entry.recorded_at,
        "kind": entry.kind,
        "memo": entry.memo,
        "actor": entry.actor,
        "external_ref": entry.external_ref,
        "reverses": entry.reverses_seq,
        "data": parse_json_object(entry.data_json),
        "postings": [
            {"account": p.account, "amount": p.amount, "currency": p.currency}
            for p in entry.postings
        ],
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
    }


def _all_entries(session: Session, pot: Pot, batch: int = 1000) -> Iterator[Entry]:
    after = 0
    while True:
        page = list_entries(session, pot, after=after, limit=min(batch, MAX_PAGE))
        yield from page.entries
        if page.next_after is None:
            return
        after = page.next_after
        session.expunge_all()  # keep memory flat on long ledgers


def export_jsonl(session: Session, pot: Pot) -> Iterator[str]:
    for entry in _all_entries(session, pot):
        yield json.dumps(entry_record(pot, entry), ensure_ascii=False, separators=(",", ":")) + "\n"


CSV_COLUMNS = (
    "seq",
    "time",
    "kind",
    "memo",
    "actor",
    "external_ref",
    "reverses",
    "account",
    "amount_minor",
    "amount",
    "currency",
    "hash",
)


def export_csv(session: Session, pot: Pot) -> Iterator[str]:
    """One row per posting, so the file adds up in any spreadsheet."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(CSV_COLUMNS)
    yield flush()
    for entry in _all_entries(session, pot):
        for posting in entry.postings:
            writer.writerow(
                (
                    entry.seq,
                    entry.recorded_at,
                    entry.kind,
                    csv_safe(entry.memo),
                    csv_safe(entry.actor),
                    entry.external_ref or "",
                    entry.reverses_seq or "",
                    posting.account,
                    posting.amount,
                    to_decimal_string(posting.amount, posting.currency),
                    posting.currency,
                    entry.hash,
                )
            )
        yield flush()


def csv_safe(text: str) -> str:
    """Stop spreadsheets from running member-written text as a formula (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
