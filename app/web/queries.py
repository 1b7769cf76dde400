"""Read queries the public pages need that the ledger does not offer (yet).

Both are index-friendly: they select a pot's entries by ``(pot_id, seq)`` (the unique constraint's
index) or ``(pot_id, kind, seq)``, never by scanning the whole table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger import accounts
from ledger.models import Entry, Posting, Pot

# Money in is what the income account gave (its credits); money out is what paid_out and fees
# received. Allocations and releases move money inside the pot and are neither.
FLOW_ACCOUNTS = (accounts.INCOME, accounts.PAID_OUT, accounts.FEES)


@dataclass(frozen=True)
class AccountMonth:
    month: str  # "YYYY-MM", UTC
    account: str
    amount: int  # sum of the account's postings that month (debit > 0)


def monthly_account_totals(
    session: Session, pot: Pot, *, after_seq: int, upto_seq: int
) -> list[AccountMonth]:
    """Per UTC month, the postings to the flow accounts of entries ``after_seq < seq <= upto_seq``.

    Asked with a seq range so a caller can keep the totals of older entries (they never change:
    the ledger is append-only) and read only what was appended since.
    """
    # recorded_at is fixed-width RFC 3339 UTC: its first 7 characters are the month.
    month = func.substr(Entry.recorded_at, 1, 7)
    rows = session.execute(
        select(month, Posting.account, func.sum(Posting.amount))
        .join(Posting, Posting.entry_id == Entry.id)
        .where(
            Entry.pot_id == pot.id,
            Entry.seq > after_seq,
            Entry.seq <= upto_seq,
            Posting.account.in_(FLOW_ACCOUNTS),
        )
        .group_by(month, Posting.account)
    ).all()
    return [AccountMonth(str(m), str(a), int(total)) for m, a, total in rows]


def latest_entries(
    session: Session, pot: Pot, *, limit: int, kinds: Sequence[str] | None = None
) -> list[Entry]:
    """The pot's newest entries (of the given kinds, if any), newest first."""
    query = select(Entry).where(Entry.pot_id == pot.id)
    if kinds is not None:
        query = query.where(Entry.kind.in_(kinds))
    return list(session.scalars(query.order_by(Entry.seq.desc()).limit(limit)))
