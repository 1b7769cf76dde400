"""What a bearer token costs a request: its row is read once, however many checks ask who is
calling, and written (``last_used_at``) at most once per ``LAST_USED_RESOLUTION``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from people import database_of, signed_in
from sqlalchemy import event, update

from ledger.people.accounts import LAST_USED_RESOLUTION
from ledger.people.models import ApiToken
from ledger.timestamps import utcnow


@contextmanager
def counting(app: Flask) -> Iterator[list[str]]:
    """The SQL statements the app runs inside the block, lower-cased."""
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(" ".join(statement.lower().split()))

    engine = database_of(app).engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", seen)


def token_reads(statements: list[str]) -> list[str]:
    return [s for s in statements if s.startswith("select") and "api_tokens" in s]


def token_writes(statements: list[str]) -> list[str]:
    return [s for s in statements if s.startswith("update api_tokens")]


def test_an_authenticated_get_reads_its_token_once(app: Flask, client: FlaskClient) -> None:
    # /me asks who is calling three times: the check of every token, its decorator, the view.
    person = signed_in(app)
    with counting(app) as statements:
        answer = client.get("/api/v1/me", headers=person.auth)
    assert answer.status_code == 200, answer.get_json()
    assert len(token_reads(statements)) == 1, statements
    assert len(token_writes(statements)) == 1  # its first use is noted

    with counting(app) as statements:
        again = client.get("/api/v1/me", headers=person.auth)
    assert again.status_code == 200
    assert len(token_reads(statements)) == 1, statements
    assert token_writes(statements) == []  # noted a moment ago: no write this time
    # Nor a write transaction: on SQLite one would lock the whole database.
    assert not any(s.startswith("begin immediate") for s in statements), statements


def test_last_used_is_noted_again_once_it_is_stale(app: Flask, client: FlaskClient) -> None:
    person = signed_in(app)
    assert client.get("/api/v1/me", headers=person.auth).status_code == 200
    stale = utcnow() - LAST_USED_RESOLUTION - timedelta(seconds=1)
    with database_of(app).write() as session:
        session.execute(
            update(ApiToken).where(ApiToken.user_id == person.user_id).values(last_used_at=stale)
        )
    with counting(app) as statements:
        assert client.get("/api/v1/me", headers=person.auth).status_code == 200
    assert len(token_reads(statements)) == 1 and len(token_writes(statements)) == 1
    with database_of(app).read() as session:
        token = session.query(ApiToken).filter_by(user_id=person.user_id).one()
        assert token.last_used_at is not None and token.last_used_at > stale


def test_a_public_get_with_a_token_reads_it_once(
    app: Flask, client: FlaskClient, pot_slug: str
) -> None:
    person = signed_in(app)
    with counting(app) as statements:
        answer = client.get(f"/api/v1/pots/{pot_slug}", headers=person.auth)
    assert answer.status_code == 200
    assert len(token_reads(statements)) == 1, statements
