"""Building a pot's community in tests: people with roles and API tokens, and money in the pot."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from ledger import operations
from ledger.db import Database
from ledger.governance import proposals
from ledger.people import accounts
from ledger.people.models import Membership, User
from ledger.people.passwords import hash_password
from ledger.pots import find_pot
from ledger.timestamps import utcnow

PASSWORD = "correct horse battery staple"


@cache
def _password_hash() -> str:
    return hash_password(PASSWORD)  # once per process: argon2 is slow on purpose


@dataclass(frozen=True)
class Person:
    id: int
    email: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def person(
    db: Database,
    slug: str | None,
    role: str | None,
    *,
    joined_at: datetime | None = None,
    admin: bool = False,
) -> Person:
    """A new user (with an API token), a ``role`` member of pot ``slug`` if both are given."""
    email = f"{role or 'someone'}-{uuid.uuid4().hex[:8]}@example.org"
    with db.write() as session:
        user = User(
            email=email,
            email_key=email.lower(),
            display_name=email.split("@")[0].title(),
            password_hash=_password_hash(),
            is_admin=admin,
            created_at=utcnow(),
        )
        session.add(user)
        session.flush()
        if slug is not None and role is not None:
            pot = find_pot(session, slug)
            session.add(
                Membership(
                    pot_id=pot.id, user_id=user.id, role=role, joined_at=joined_at or utcnow()
                )
            )
        issued = accounts.issue_token(session, user, name="test")
        return Person(user.id, email, issued.secret)


def fund(db: Database, slug: str, amount: int) -> None:
    with db.write() as session:
        operations.record(session, slug, "contribution", amount, memo="Test money", actor="test")


BALLOT_KEY = b"k" * 32


def approve(db: Database, slug: str, amount: int) -> int:
    """A proposal of a new member, approved by a new steward (enough under the default rules):
    funded at once if the pot has the money, else approved and waiting for it."""
    proposer, steward = person(db, slug, "member"), person(db, slug, "steward")
    draft = proposals.Draft(title="Bursaries", summary="", amount=amount, payee_name="Members")
    with db.write() as session:
        pid = proposals.submit(
            session, slug, draft, user_id=proposer.id, open_now=True, now=utcnow()
        ).id
    with db.write() as session:
        proposals.vote(
            session,
            pid,
            user_id=steward.id,
            choice="approve",
            reason=None,
            ballot_key=BALLOT_KEY,
            now=utcnow(),
        )
    return pid


def status_of(db: Database, pid: int) -> str:
    with db.read() as session:
        return str(proposals.get(session, pid).status)


def approved_waiting(db: Database, slug: str, amount: int) -> int:
    """A proposal approved while the pot had too little money for it."""
    pid = approve(db, slug, amount)
    assert status_of(db, pid) == "approved"
    return pid
