"""Interim protection of the API's write endpoints, until members and roles exist (issue 3).

A write endpoint answers only a request carrying ``Authorization: Bearer <token>`` where the token
equals ``COMMONPOT_OPERATOR_TOKEN`` (from the app's config or the environment). Unset, the write
endpoints are closed (403) and the CLI, which needs shell access to the server, is the way in.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import current_app, request
from flask_smorest import abort

OPERATOR_TOKEN_ENV = "COMMONPOT_OPERATOR_TOKEN"
F = TypeVar("F", bound=Callable[..., Any])


def require_operator() -> None:
    expected = current_app.config.get(OPERATOR_TOKEN_ENV) or os.environ.get(OPERATOR_TOKEN_ENV)
    if not expected:
        abort(
            403,
            message="writing through the API is closed until sign-in exists; "
            "use the commonpot command line (or set COMMONPOT_OPERATOR_TOKEN)",
        )
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), str(expected).encode()
    ):
        abort(
            401,
            message="this endpoint needs the operator token",
            headers={"WWW-Authenticate": 'Bearer realm="commonpot"'},
        )


def operator_only(view: F) -> F:
    """Check the operator token before anything else (outermost, above ``@blp.arguments``)."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        require_operator()
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
