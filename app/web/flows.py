"""Money in and out of a pot per month, kept up to date without rereading the ledger.

Entries never change once written, so the monthly totals of the first N entries never change
either. Each app process keeps, per pot, the totals up to the sequence number it last read and adds
only the entries appended since: a page view costs an index range read of the new entries, not a
scan of the pot's history (only the first view after a start reads it all, once).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass

from flask import current_app
from sqlalchemy.orm import Session

from app.web import queries
from ledger import accounts
from ledger.models import Pot

_EXTENSION_KEY = "commonpot.web.flows"


@dataclass(frozen=True)
class MonthlyFlow:
    month: str  # "YYYY-MM", UTC
    money_in: int  # minor units: contributions less refunds
    money_out: int  # minor units: payouts and fees, less their refunds


@dataclass(frozen=True)
class _Totals:
    upto_seq: int
    by_month: dict[str, tuple[int, int]]  # month -> (in, out)


class FlowCache:
    """Per pot, the monthly totals as of a sequence number (thread-safe, one per app)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pots: dict[int, _Totals] = {}

    def flows(self, session: Session, pot: Pot) -> list[MonthlyFlow]:
        """Every month with money moving, oldest first, up to the pot's head as ``pot`` shows it."""
        with self._lock:
            known = self._pots.get(pot.id, _Totals(0, {}))
        if known.upto_seq < pot.head_seq:
            known = _add(known, session, pot)
            with self._lock:
                current = self._pots.get(pot.id)
                if current is None or current.upto_seq < known.upto_seq:
                    self._pots[pot.id] = known
        elif known.upto_seq > pot.head_seq:  # a reader behind a newer one: compute its own view
            known = _add(_Totals(0, {}), session, pot)
        return [MonthlyFlow(month, i, o) for month, (i, o) in sorted(known.by_month.items())]


def _add(known: _Totals, session: Session, pot: Pot) -> _Totals:
    rows = queries.monthly_account_totals(
        session, pot, after_seq=known.upto_seq, upto_seq=pot.head_seq
    )
    delta: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        if row.account == accounts.INCOME:
            delta[row.month][0] -= row.amount  # income is credited (negative) when money comes in
        else:
            delta[row.month][1] += row.amount
    merged = dict(known.by_month)
    for month, (money_in, money_out) in delta.items():
        before_in, before_out = merged.get(month, (0, 0))
        merged[month] = (before_in + money_in, before_out + money_out)
    return _Totals(pot.head_seq, merged)


def init_flows(app_extensions: dict[str, object]) -> None:
    app_extensions[_EXTENSION_KEY] = FlowCache()


def monthly_flows(session: Session, pot: Pot) -> list[MonthlyFlow]:
    cache: FlowCache = current_app.extensions[_EXTENSION_KEY]
    return cache.flows(session, pot)
