"""Who may call an endpoint, checked before anything else.

Put these decorators outermost, above ``@blp.arguments``: a request without the right
credentials is answered 401 or 403 before its body is even read, so the answer never tells the
public whether a body would have been valid. The checks themselves are ``app.auth``'s.

:func:`init_access` makes every API request that carries a token have it checked, public
endpoints included: a client with a broken token learns it at once, not at its first write.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, request

from app.auth import current_user, require_role, require_user
from ledger.people.models import Role

F = TypeVar("F", bound=Callable[..., Any])
API_PREFIX = "/api/"
#: Signing in takes an email and password; a stale token sent along must not stand in the way.
SIGN_IN = ("auth.Tokens", "POST")


def init_access(app: Flask) -> None:
    @app.before_request
    def _check_any_token() -> None:
        if (
            request.path.startswith(API_PREFIX)
            and "Authorization" in request.headers
            and (request.endpoint, request.method) != SIGN_IN
        ):
            current_user()  # 401 for a malformed, unknown or revoked token


def signed_in(view: F) -> F:
    """401 without a valid token."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        require_user()
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def role_required(*roles: Role) -> Callable[[F], F]:
    """401 without a valid token, 403 unless the user holds one of ``roles`` in the pot named
    by the view's ``slug`` argument (any role when none are given; site admins always pass)."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            require_role(kwargs["slug"], *roles)
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
