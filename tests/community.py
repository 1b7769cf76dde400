"""Building a pot's community in tests: people with roles and API tokens, and money in the pot."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from ledger import operations
from ledger.db import Database
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
