"""Signing in and out of the pages."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from community import PASSWORD, person
from ledger.db import Database


def csrf_token(client: FlaskClient, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    found = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def sign_in(client: FlaskClient, email: str, password: str = PASSWORD) -> int:
    token = csrf_token(client, "/sign-in")
    response = client.post(
        "/sign-in", data={"csrf_token": token, "email": email, "password": password}
    )
    return response.status_code


def test_sign_in_and_out(client: FlaskClient, db: Database, pot_slug: str) -> None:
    alice = person(db, pot_slug, "member")
    assert sign_in(client, alice.email.upper()) == 302  # emails are case-insensitive
    home = client.get("/").get_data(as_text=True)
    assert "Sign out" in home
    token = csrf_token(client, "/")
    assert client.post("/sign-out").status_code == 400  # no CSRF token: refused
    assert client.post("/sign-out", data={"csrf_token": token}).status_code == 302
    assert "Sign in" in client.get("/").get_data(as_text=True)


def test_unknown_email_and_wrong_password_look_the_same(
    client: FlaskClient, db: Database, pot_slug: str
) -> None:
    alice = person(db, pot_slug, "member")
    wrong = client.post(
        "/sign-in",
        data={
            "csrf_token": csrf_token(client, "/sign-in"),
            "email": alice.email,
            "password": "nope-nope-nope",
        },
    )
    unknown = client.post(
        "/sign-in",
        data={
            "csrf_token": csrf_token(client, "/sign-in"),
            "email": "nobody@example.org",
            "password": "nope-nope-nope",
        },
    )
    assert wrong.status_code == unknown.status_code == 401
    message = "The email or password is not right."
    assert message in wrong.get_data(as_text=True)
    assert message in unknown.get_data(as_text=True)
    # What was typed stays in the form (but never the password).
    assert alice.email in wrong.get_data(as_text=True)
    assert "nope-nope-nope" not in wrong.get_data(as_text=True)
