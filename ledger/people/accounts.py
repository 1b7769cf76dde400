"""Users and their API tokens: sign-up, sign-in, issuing, using and revoking tokens."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ledger.db import Database
from ledger.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from ledger.people.models import MAX_EMAIL, MAX_NAME, ApiToken, User
from ledger.people.passwords import hash_password, verify_password
from ledger.people.secrets import TOKEN_PREFIX, digest, new_secret
from ledger.timestamps import utcnow

# Deliberately loose: the one sure test of an address is mail reaching it.
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
_TOKEN = re.compile(r"^cp_[A-Za-z0-9_-]{43}$")
MAX_TOKEN_NAME = 100
#: How rarely ``last_used_at`` is written, so that reads do not each cost a write.
LAST_USED_RESOLUTION = timedelta(minutes=5)
BAD_CREDENTIALS = "the email or password is not right"


class EmailTaken(Conflict):
    title = "Email already registered"


class TokenNotFound(NotFound):
    title = "Token not found"


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    secret: str  # shown once, never stored


def email_key(email: str) -> str:
    return email.strip().lower()


def check_email(email: object) -> str:
    if (
        not isinstance(email, str)
        or len(email.strip()) > MAX_EMAIL
        or not _EMAIL.match(email.strip())
    ):
        raise InvalidInput(f"{_shown(email)} is not an email address")
    return email.strip()


def check_display_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("a display name is required")
    if len(name.strip()) > MAX_NAME or any(ord(c) < 0x20 for c in name):
        raise InvalidInput(f"a display name is one line of at most {MAX_NAME} characters")
    return name.strip()


def create_user(
    session: Session, email: str, *, name: str, password: str, admin: bool = False
) -> User:
    email = check_email(email)
    user = User(
        email=email,
        email_key=email_key(email),
        display_name=check_display_name(name),
        password_hash=hash_password(password),
        is_admin=admin,
        created_at=utcnow(),
    )
    if find_user(session, email) is not None:
        raise EmailTaken(f"{email} already has an account")
    session.add(user)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:  # registered at the same moment by another request
        raise EmailTaken(f"{email} already has an account") from None
    return user


def find_user(session: Session, email: str) -> User | None:
    if not isinstance(email, str) or len(email) > MAX_EMAIL:
        return None
    return session.scalars(select(User).where(User.email_key == email_key(email))).one_or_none()


def authenticate(session: Session, email: object, password: object) -> User:
    """The user with these credentials; the same :class:`Unauthenticated` for an unknown
    email and a wrong password (and the same work, see ``verify_password``)."""
    user = find_user(session, email) if isinstance(email, str) else None
    ok = verify_password(
        user.password_hash if user else None, password if isinstance(password, str) else ""
    )
    if user is None or not ok:
        raise Unauthenticated(BAD_CREDENTIALS)
    return user


def issue_token(session: Session, user: User, *, name: str = "API token") -> IssuedToken:
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_TOKEN_NAME:
        raise InvalidInput(f"a token's name is 1 to {MAX_TOKEN_NAME} characters")
    secret = new_secret(TOKEN_PREFIX)
    token = ApiToken(
        user_id=user.id,
        name=name.strip(),
        token_hash=digest(secret),
        prefix=secret[:10],
        created_at=utcnow(),
    )
    session.add(token)
    session.flush()
    return IssuedToken(token, secret)


def use_token(db: Database, secret: str, *, now: datetime | None = None) -> User:
    """The user a bearer token belongs to (:class:`Unauthenticated` for anything else), noting
    that the token was used.

    One read finds the token and its user. A write follows only when ``last_used_at`` is due
    (see ``LAST_USED_RESOLUTION``): most requests take no write transaction, which on SQLite
    would lock the whole database for the length of the check.
    """
    if not isinstance(secret, str) or not _TOKEN.match(secret):
        raise Unauthenticated("the token is malformed")
    with db.read() as session:
        row = session.execute(
            select(ApiToken, User)
            .join(User, User.id == ApiToken.user_id)
            .where(ApiToken.token_hash == digest(secret))
        ).one_or_none()
    if row is None or row.ApiToken.revoked_at is not None:
        raise Unauthenticated("the token is unknown or revoked")
    token, user = row.ApiToken, row.User
    now = now or utcnow()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        with db.write() as session:
            # By id: the token is already found. Two requests due at once both write; harmless.
            session.execute(
                update(ApiToken).where(ApiToken.id == token.id).values(last_used_at=now)
            )
    return user


def list_tokens(session: Session, user: User) -> list[ApiToken]:
    return list(
        session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id))
    )


def revoke_token(session: Session, user: User, token_id: int) -> ApiToken:
    # An id beyond a signed 64-bit integer names no token (and PostgreSQL would refuse it).
    token = session.get(ApiToken, token_id) if 0 < token_id < 2**63 else None
    if token is None or token.user_id != user.id:
        raise TokenNotFound(f"you have no token {token_id}")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
    return token


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
