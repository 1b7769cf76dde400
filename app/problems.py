"""One error body everywhere on the API: RFC 9457 ``application/problem+json``.

Domain errors from ``ledger`` map to HTTP statuses here, and only here.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from flask import Flask, Response, json, request
from werkzeug.exceptions import HTTPException, InternalServerError

from ledger import errors

PROBLEM_JSON = "application/problem+json"

_STATUS: list[tuple[type[errors.LedgerError], int]] = [
    (errors.Unauthenticated, 401),
    (errors.Forbidden, 403),
    (errors.NotFound, 404),
    (errors.IdempotencyConflict, 409),
    (errors.Conflict, 409),
    (errors.InsufficientFunds, 409),
    (errors.InvalidInput, 422),
]

log = logging.getLogger(__name__)


def problem(
    status: int, title: str, detail: str | None = None, *, code: str | None = None, **extra: Any
) -> Response:
    body: dict[str, Any] = {
        "type": f"/problems/{code}" if code else "about:blank",
        "title": title,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    body["instance"] = request.path
    body.update(extra)
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    return response


def _code(exc: errors.LedgerError) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", type(exc).__name__).lower()


def status_for(exc: errors.LedgerError) -> int:
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status
    return 400


def from_ledger_error(exc: errors.LedgerError) -> Response:
    extra: dict[str, Any] = {}
    if isinstance(exc, errors.InsufficientFunds):
        extra = {"account": exc.account, "balance": exc.balance, "requested": exc.requested}
    response = problem(status_for(exc), exc.title, exc.detail, code=_code(exc), **extra)
    if isinstance(exc, errors.Unauthenticated):
        response.headers["WWW-Authenticate"] = 'Bearer realm="commonpot"'
    return response


def from_http_exception(exc: HTTPException) -> Response:
    status = exc.code or 500
    data = getattr(exc, "data", None) or {}
    extra: dict[str, Any] = {}
    detail = data.get("message") or exc.description
    messages = data.get("errors") or data.get("messages")
    if messages:
        # webargs nests by location ("json", "query"); keep it: it says where the problem is.
        extra["errors"] = messages
        detail = "The request has invalid fields: " + _summarise(messages)
    response = problem(status, exc.name, detail, **extra)
    for name, value in (data.get("headers") or {}).items():
        response.headers[name] = value
    if status == 405 and exc.get_response().headers.get("Allow"):
        response.headers["Allow"] = exc.get_response().headers["Allow"]
    return response


def _summarise(messages: Any, prefix: str = "") -> str:
    if isinstance(messages, dict):
        parts = [
            _summarise(v, f"{prefix}{k}." if prefix or k not in ("json", "query") else "")
            for k, v in messages.items()
        ]
        return "; ".join(parts)
    if isinstance(messages, list):
        return f"{prefix.rstrip('.')}: " + " ".join(str(m) for m in messages)
    return f"{prefix.rstrip('.')}: {messages}"


def register(app: Flask) -> None:
    app.register_error_handler(errors.LedgerError, from_ledger_error)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        if isinstance(exc, HTTPException):
            return from_http_exception(exc)
        log.exception("unhandled error on %s %s", request.method, request.path)
        return from_http_exception(InternalServerError())
