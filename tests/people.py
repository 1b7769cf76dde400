"""People in tests: a user with an API token, a member of a pot with a role, in one call.

Built through the same services a request goes through (invitation, acceptance, sign-in), so
the audit log holds what it would hold in real life.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from argon2 import PasswordHasher, profiles
from flask import Flask

from app.extensions import EXTENSION_KEY
from ledger.db import Database
from ledger.people import accounts, passwords
from ledger.people import membership as members
from ledger.people.models import Role

PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class SignedIn:
    user_id: int
    email: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@contextmanager
def cheap_hashing() -> Iterator[None]:
    """Hash the passwords made inside with argon2's cheapest parameters (they travel inside
    the hash, so checking them later is cheap too); the service's own stay as they are."""
    saved = passwords._hasher
    passwords._hasher = PasswordHasher.from_parameters(profiles.CHEAPEST)
    try:
        yield
    finally:
        passwords._hasher = saved


def database_of(app_or_db: Flask | Database) -> Database:
    if isinstance(app_or_db, Database):
        return app_or_db
    db: Database = app_or_db.extensions[EXTENSION_KEY]
    return db


def new_email(hint: str = "someone") -> str:
    return f"{hint}-{uuid.uuid4().hex[:10]}@example.org"


def signed_in(
    app_or_db: Flask | Database,
    *,
    email: str | None = None,
    name: str | None = None,
    admin: bool = False,
) -> SignedIn:
    """A new user with a fresh API token (password: ``PASSWORD``)."""
    email = email or new_email("admin" if admin else "someone")
    with cheap_hashing(), database_of(app_or_db).write() as session:
        user = accounts.create_user(
            session, email, name=name or email.split("@")[0], password=PASSWORD, admin=admin
        )
        issued = accounts.issue_token(session, user, name="tests")
        return SignedIn(user.id, email, issued.secret)


def joined(app_or_db: Flask | Database, slug: str, role: Role | str) -> SignedIn:
    """A new user, invited to pot ``slug`` as ``role`` by the operator, who accepted, with a
    fresh API token."""
    db = database_of(app_or_db)
    email = new_email(str(role))
    with db.write() as session:
        issued = members.invite(session, slug, email, role, None)
    with cheap_hashing(), db.write() as session:
        result = members.accept(session, issued.token, name=email.split("@")[0], password=PASSWORD)
        token = accounts.issue_token(session, result.user, name="tests")
        return SignedIn(result.user.id, email, token.secret)


def member(app_or_db: Flask | Database, slug: str, role: Role | str) -> tuple[int, str]:
    """(user id, bearer token) of a new ``role`` member of pot ``slug``."""
    person = joined(app_or_db, slug, role)
    return person.user_id, person.token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
