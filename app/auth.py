"""Who is asking: bearer tokens on the API, and the role checks every endpoint makes.

``Authorization: Bearer <token>`` names a user (see ``ledger.people.accounts``). Views call
:func:`current_user` (None for the public), :func:`require_user` (401 without a valid token)
or :func:`require_role` (401 without a token, 403 without one of the roles in that pot; a
site admin passes every role check). A malformed, unknown or revoked token is always a 401,
even on public endpoints, so that a client with a broken token learns it at once.
"""

from __future__ import annotations

from flask import g, request

from app.extensions import database
from ledger.errors import Forbidden, Unauthenticated
from ledger.people import accounts
from ledger.people.membership import may_act, role_in
from ledger.people.models import Role, User
from ledger.pots import find_pot

_UNSET = object()


def current_user() -> User | None:
    cached = g.get("commonpot_user", _UNSET)
    if cached is not _UNSET:
        return cached
    # Once per request: every check after the first (the token check of every API request,
    # a view's decorator, the view itself) reads this instead of the database.
    secret = bearer_token()
    user = None if secret is None else accounts.use_token(database(), secret)
    g.commonpot_user = user
    return user


def bearer_token() -> str | None:
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Unauthenticated("use 'Authorization: Bearer <token>'")
    return secret.strip()


def require_user() -> User:
    user = current_user()
    if user is None:
        raise Unauthenticated("sign in first: this needs an API token")
    return user


def require_role(slug: str, *roles: Role) -> User:
    """The signed-in user, if they hold one of ``roles`` in the pot (any role if none given)."""
    user = require_user()
    with database().read() as session:
        if may_act(session, user, slug, roles):
            return user
        # Refused: read the role only to say what they are instead.
        role = role_in(session, find_pot(session, slug).id, user.id)
    if role is None:
        raise Forbidden(f"only members of {slug} may do this")
    names = " or ".join(r.value for r in roles)
    raise Forbidden(f"only a {names} of {slug} may do this; you are a {role.value}")
