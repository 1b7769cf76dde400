"""``Idempotency-Key`` on the API's POST endpoints.

A client that is not sure its POST arrived sends it again with the same key: it gets the first
answer back and nothing happens twice. The same key with a different request is a 409. Keys are
per caller (the signed-in user). A key's row is written *before* the work starts, so a second
request racing the first with the same key is refused (409, "in progress") instead of doing
the work twice; if the work fails, the row goes and the key may be used again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar

from flask import Response, request
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from app.auth import current_user
from app.extensions import database
from app.problems import problem
from ledger.idempotency import MAX_KEY, IdempotentRequest
from ledger.timestamps import utcnow

HEADER = "Idempotency-Key"
IN_PROGRESS = 0
#: A request still "in progress" after this long crashed; its key may be used again.
STALE_AFTER = timedelta(minutes=2)
F = TypeVar("F", bound=Callable[..., Any])


def idempotent(view: F) -> F:
    """Outermost decorator of a POST view (above ``@blp.response``)."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = request.headers.get(HEADER)
        if key is None:
            return view(*args, **kwargs)
        if not key.strip() or len(key) > MAX_KEY or not key.isprintable():
            return problem(400, "Bad Idempotency-Key", f"use 1 to {MAX_KEY} printable characters")
        user = current_user()
        caller = f"user:{user.id}" if user else f"anonymous:{request.remote_addr}"
        fingerprint = _fingerprint()
        earlier = _claim(caller, key, fingerprint)
        if earlier is not None:
            return earlier
        try:
            response = view(*args, **kwargs)
        except BaseException:
            _release(caller, key)
            raise
        if not isinstance(response, Response) or response.status_code >= 300:
            _release(caller, key)
            return response
        _store(caller, key, response)
        return response

    return wrapper  # type: ignore[return-value]


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for part in (request.method, request.path, request.query_string.decode("latin-1")):
        digest.update(part.encode() + b"\0")
    digest.update(request.get_data(cache=True))
    return digest.hexdigest()


def _claim(caller: str, key: str, fingerprint: str) -> Response | None:
    """Write the key's row, or answer from the earlier request that wrote it."""
    try:
        with database().write() as session:
            row = session.scalars(
                select(IdempotentRequest).where(
                    IdempotentRequest.caller == caller, IdempotentRequest.key == key
                )
            ).one_or_none()
            if row is not None and row.status == IN_PROGRESS:
                if utcnow() - row.created_at < STALE_AFTER:
                    return problem(
                        409,
                        "Request in progress",
                        "a request with this Idempotency-Key is "
                        "still being processed; retry in a moment",
                    )
                session.delete(row)
                session.flush()
                row = None
            if row is not None:
                if row.fingerprint != fingerprint:
                    return problem(
                        409,
                        "Idempotency key reused with different content",
                        f"Idempotency-Key {key!r} was used for a different request",
                        code="idempotency-conflict",
                    )
                return Response(row.body, status=row.status, mimetype="application/json")
            session.add(
                IdempotentRequest(
                    caller=caller,
                    key=key,
                    fingerprint=fingerprint,
                    status=IN_PROGRESS,
                    body="",
                    created_at=utcnow(),
                )
            )
    except IntegrityError:
        return problem(
            409,
            "Request in progress",
            "a request with this Idempotency-Key is being processed; retry in a moment",
        )
    return None


def _store(caller: str, key: str, response: Response) -> None:
    with database().write() as session:
        row = session.scalars(
            select(IdempotentRequest).where(
                IdempotentRequest.caller == caller, IdempotentRequest.key == key
            )
        ).one()
        row.status = response.status_code
        row.body = response.get_data(as_text=True)


def _release(caller: str, key: str) -> None:
    with database().write() as session:
        session.execute(
            delete(IdempotentRequest).where(
                IdempotentRequest.caller == caller, IdempotentRequest.key == key
            )
        )
