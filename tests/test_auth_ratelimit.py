"""Guessing passwords is rate-limited: failed sign-ins count per client address and per email;
while either budget is spent, sign-in answers 429 with Retry-After. Successes never count."""

from __future__ import annotations

import itertools

from flask import Flask
from flask.testing import FlaskClient
from people import PASSWORD, new_email, signed_in

PROBLEM = "application/problem+json"
_addresses = itertools.count(1)


def client_at(app: Flask) -> FlaskClient:
    """A client with an address of its own (so tests never share a budget)."""
    client = app.test_client()
    n = next(_addresses)
    client.environ_base["REMOTE_ADDR"] = f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"
    return client


def attempt(client: FlaskClient, email: str, password: str) -> int:
    answer = client.post("/api/v1/tokens", json={"email": email, "password": password})
    return answer.status_code


def test_repeated_failures_for_one_email_are_refused_with_429(app: Flask) -> None:
    person = signed_in(app)
    for _ in range(5):  # from five different addresses: the email's budget is what runs out
        assert attempt(client_at(app), person.email, "wrong password!") == 401
    answer = client_at(app).post(
        "/api/v1/tokens", json={"email": person.email, "password": PASSWORD}
    )
    assert answer.status_code == 429  # even the right password, until the window passes
    assert answer.headers["Content-Type"] == PROBLEM
    body = answer.get_json()
    assert body["status"] == 429 and body["type"] == "/problems/too-many-requests"
    assert 1 <= int(answer.headers["Retry-After"]) <= 61
    # Other people are not locked out.
    other = signed_in(app)
    assert attempt(client_at(app), other.email, PASSWORD) == 201


def test_repeated_failures_from_one_address_are_refused_with_429(app: Flask) -> None:
    person = signed_in(app)
    attacker = client_at(app)
    for _ in range(5):  # a different unknown email each time: the address's budget runs out
        assert attempt(attacker, new_email(), "wrong password!") == 401
    assert attempt(attacker, person.email, PASSWORD) == 429
    assert attempt(client_at(app), person.email, PASSWORD) == 201  # from elsewhere: fine


def test_successes_and_malformed_requests_do_not_count(app: Flask) -> None:
    person = signed_in(app)
    client = client_at(app)
    for _ in range(7):
        assert attempt(client, person.email, PASSWORD) == 201
    for _ in range(7):
        answer = client.post("/api/v1/tokens", json={"email": person.email})
        assert answer.status_code == 422
    assert attempt(client, person.email, PASSWORD) == 201


def test_the_limit_is_configurable_and_can_be_turned_off(app: Flask) -> None:
    person = signed_in(app)
    app.config["COMMONPOT_SIGN_IN_LIMIT"] = "2 per hour"
    client = client_at(app)
    assert attempt(client, person.email, "wrong password!") == 401
    assert attempt(client, person.email, "wrong password!") == 401
    answer = client.post("/api/v1/tokens", json={"email": person.email, "password": PASSWORD})
    assert answer.status_code == 429 and int(answer.headers["Retry-After"]) > 60

    app.config["COMMONPOT_SIGN_IN_LIMIT"] = ""
    for _ in range(6):
        assert attempt(client, person.email, "wrong password!") == 401
    assert attempt(client, person.email, PASSWORD) == 201


def test_other_endpoints_are_not_limited(app: Flask, pot_slug: str) -> None:
    client = client_at(app)
    for _ in range(8):
        assert client.get("/api/v1/me").status_code == 401
        assert client.get("/api/v1/tokens").status_code == 401
    person = signed_in(app)
    assert attempt(client, person.email, PASSWORD) == 201
