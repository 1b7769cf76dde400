"""The web's security foundation: CSRF on every form, careful cookies and response headers.

CSRF: every state-changing request is checked (Flask-WTF), except under the prefixes that
authenticate with a bearer or URL token instead of a cookie: the JSON API and the integration
webhooks. A browser cannot attach such a token to a forged cross-site request, so a CSRF token
would add nothing there; and a path rule, unlike a list of blueprints, also covers blueprints
added later under those prefixes.

Headers: a Content-Security-Policy that allows our own origin only (no inline script or style,
no framing), on every response. Swagger UI (``/api/v1/docs``) is the one page we do not write:
it needs one inline script, allowed by its hash, and inline styles.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re

from flask import Flask, Response, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect

csrf = CSRFProtect()

TOKEN_AUTHENTICATED_PREFIXES = ("/api/", "/integrations/")
SWAGGER_UI_PATH = "/api/v1/docs"

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
# An SVG opened on its own: pygal's charts carry their styles inline, and nothing else is needed.
SVG_CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
)

_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


def init_security(app: Flask) -> None:
    # Development and tests are served over plain HTTP, where a Secure cookie would not come back.
    development = app.debug or app.testing or os.environ.get("COMMONPOT_ENV") == "development"
    app.config.update(
        SESSION_COOKIE_SECURE=not development,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    # We decide which requests are checked (below) rather than exempting view by view.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    csrf.init_app(app)
    app.before_request(protect_forms)
    app.after_request(set_security_headers)
    app.register_error_handler(CSRFError, refused_form)


def protect_forms() -> None:
    if request.method in ("GET", "HEAD", "OPTIONS", "TRACE"):
        return
    if request.path.startswith(TOKEN_AUTHENTICATED_PREFIXES):
        return
    csrf.protect()


def refused_form(error: CSRFError) -> tuple[str, int]:
    return render_template("errors/csrf.html", reason=error.description), 400


def set_security_headers(response: Response) -> Response:
    headers = response.headers
    if response.mimetype == "image/svg+xml":
        headers.setdefault("Content-Security-Policy", SVG_CONTENT_SECURITY_POLICY)
    elif request.path.rstrip("/") == SWAGGER_UI_PATH:
        headers.setdefault("Content-Security-Policy", _swagger_ui_policy(response))
    else:
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    return response


def _swagger_ui_policy(response: Response) -> str:
    """Our policy, plus Swagger UI's own inline script (by hash), inline styles and data: icons."""
    hashes = []
    if not response.is_streamed:
        for script in _INLINE_SCRIPT.findall(response.get_data()):
            digest = base64.b64encode(hashlib.sha256(script).digest()).decode()
            hashes.append(f"'sha256-{digest}'")
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self' " + " ".join(hashes),
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )
