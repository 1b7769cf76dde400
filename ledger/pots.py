"""Pots: creating them and reading their state without scanning their entries."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ledger import accounts
from ledger.errors import InvalidInput, PotExists, PotNotFound
from ledger.models import GENESIS_HASH, Balance, Pot
from ledger.money import validate_currency

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")


@dataclass(frozen=True)
class PotSummary:
    slug: str
    name: str
    currency: str
    entry_count: int
    head_hash: str
    balances: dict[str, int]  # account -> signed balance (debit > 0)

    @property
    def available(self) -> int:
        return self.balances.get(accounts.AVAILABLE, 0)

    @property
    def committed(self) -> int:
        return sum(v for k, v in self.balances.items() if accounts.is_committed(k))

    @property
    def held(self) -> int:
        return self.available + self.committed

    @property
    def received(self) -> int:
        return -self.balances.get(accounts.INCOME, 0)

    @property
    def paid_out(self) -> int:
        return self.balances.get(accounts.PAID_OUT, 0)

    @property
    def fees(self) -> int:
        return self.balances.get(accounts.FEES, 0)


def create_pot(session: Session, slug: str, *, name: str, currency: str) -> Pot:
    if not isinstance(slug, str) or not SLUG.match(slug):
        raise InvalidInput(
            f"{slug!r} is not a valid slug: use 1-64 lowercase letters, digits and inner hyphens"
        )
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise InvalidInput("a pot needs a name of 1 to 200 characters")
    validate_currency(currency)
    if session.scalars(select(Pot.id).where(Pot.slug == slug)).first() is not None:
        raise PotExists(f"a pot called {slug!r} already exists")
    pot = Pot(
        slug=slug,
        name=name.strip(),
        currency=currency,
        created_at=datetime.now(UTC),
        head_seq=0,
        head_hash=GENESIS_HASH,
    )
    session.add(pot)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:  # a concurrent creation of the same slug won the race
        raise PotExists(f"a pot called {slug!r} already exists") from None
    return pot


# Built once: every request finds a pot, and building the statement costs more than running it.
_FIND_POT = select(Pot).where(Pot.slug == bindparam("slug"))
# populate_existing: a Pot already in the session (read before the lock) must be refreshed from
# the locked row, or its chain head could be stale.
_LOCK_POT = _FIND_POT.with_for_update().execution_options(populate_existing=True)


def find_pot(session: Session, slug: str, *, for_update: bool = False) -> Pot:
    """The pot called ``slug``; ``for_update`` holds its row lock until the transaction ends."""
    # A string that is not a slug cannot name a pot; it never reaches the database (a NUL byte
    # would make PostgreSQL fail rather than find nothing).
    if not isinstance(slug, str) or not SLUG.match(slug):
        raise PotNotFound(f"there is no pot called {slug!r}")
    query = _LOCK_POT if for_update else _FIND_POT
    pot = session.scalars(query, {"slug": slug}).one_or_none()
    if pot is None:
        raise PotNotFound(f"there is no pot called {slug!r}")
    return pot


def get_pot(session: Session, slug: str) -> Pot:
    return find_pot(session, slug)


def list_pots(session: Session) -> list[Pot]:
    return list(session.scalars(select(Pot).order_by(Pot.slug)))


def summarise(session: Session, pot: Pot) -> PotSummary:
    """Balances from the maintained table: the cost does not grow with the number of entries."""
    rows = session.execute(
        select(Balance.account, Balance.amount).where(Balance.pot_id == pot.id)
    ).all()
    return PotSummary(
        slug=pot.slug,
        name=pot.name,
        currency=pot.currency,
        entry_count=pot.head_seq,
        head_hash=pot.head_hash,
        balances={account: amount for account, amount in rows},
    )
