"""Rate limits on guessing passwords (Flask-Limiter).

Only *failed* sign-ins count (``deduct_when``): each 401 from the sign-in endpoint costs one
from two budgets, the client address's and the email's, so that one address cannot try many
emails and many addresses cannot share out the guesses at one email. While either budget is
spent, sign-in answers 429 with ``Retry-After``, before any password is checked.

Configuration (app config, else the environment):

- ``COMMONPOT_SIGN_IN_LIMIT``: failures allowed per address and per email, in Flask-Limiter's
  notation (default ``5 per minute``); empty turns the limit off.
- ``RATELIMIT_STORAGE_URI``: where the counts live (default ``memory://``, one process's
  memory; with several workers or hosts use Redis, e.g. ``redis://localhost:6379/0``).

Behind a proxy, the client address is the proxy's unless the app trusts ``X-Forwarded-For``
(werkzeug's ``ProxyFix``).
"""

from __future__ import annotations

import hashlib
import math
import os
import time

from flask import Flask, Response, current_app, render_template, request
from flask_limiter import Limiter, RateLimitExceeded
from flask_limiter.util import get_remote_address

from app.problems import problem

SIGN_IN_LIMIT = "COMMONPOT_SIGN_IN_LIMIT"
DEFAULT_SIGN_IN_LIMIT = "5 per minute"
STORAGE_URI = "RATELIMIT_STORAGE_URI"

limiter = Limiter(get_remote_address)


def init_rate_limits(app: Flask) -> None:
    app.config.setdefault(
        SIGN_IN_LIMIT, os.environ.get(SIGN_IN_LIMIT, DEFAULT_SIGN_IN_LIMIT).strip()
    )
    app.config.setdefault(STORAGE_URI, os.environ.get(STORAGE_URI) or "memory://")
    limiter.init_app(app)
    app.register_error_handler(RateLimitExceeded, too_many_requests)


def _sign_in_limit() -> str:
    return str(current_app.config.get(SIGN_IN_LIMIT) or DEFAULT_SIGN_IN_LIMIT)


def _limit_off() -> bool:
    return not current_app.config.get(SIGN_IN_LIMIT)


def _failed(response: Response) -> bool:
    return response.status_code == 401


def _email_key() -> str:
    """The email tried, as a digest: the counts' store need not hold anyone's address."""
    body = request.get_json(silent=True)
    email = body.get("email") if isinstance(body, dict) else request.form.get("email")
    text = email.strip().lower() if isinstance(email, str) else ""
    return "email:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


#: Decorate a sign-in view with this (outermost) to count its failures.
failed_sign_ins = limiter.shared_limit(
    _sign_in_limit,
    scope="sign-in-address",
    deduct_when=_failed,
    exempt_when=_limit_off,
)
failed_sign_ins_per_email = limiter.shared_limit(
    _sign_in_limit,
    scope="sign-in-email",
    key_func=_email_key,
    deduct_when=_failed,
    exempt_when=_limit_off,
)


def too_many_requests(exc: RateLimitExceeded) -> Response:
    current = limiter.current_limit
    reset_at = current.reset_at if current is not None else time.time() + 60
    retry_after = max(1, math.ceil(reset_at - time.time()))
    if not request.path.startswith("/api/"):
        page = render_template(
            "errors/error.html",
            title="Too many failed sign-ins",
            detail=f"Too many failed attempts. Please try again in {retry_after} seconds.",
        )
        return Response(page, status=429, headers={"Retry-After": str(retry_after)})
    response = problem(
        429,
        "Too many failed sign-ins",
        f"too many failed attempts ({exc.limit.limit}); try again in {retry_after} seconds",
        code="too-many-requests",
    )
    response.headers["Retry-After"] = str(retry_after)
    return response
