"""Signing in over HTTP: tokens are issued once, listed without their secret, revoked for good;
bad tokens and bad credentials are 401s that tell an attacker nothing."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from people import PASSWORD, bearer, member, new_email, signed_in
from sqlalchemy import func, select

from ledger.db import Database
from ledger.people.models import ApiToken
from ledger.people.secrets import digest

PROBLEM = "application/problem+json"


def sign_in(client: FlaskClient, email: str, password: str = PASSWORD, **extra: object) -> dict:
    answer = client.post("/api/v1/tokens", json={"email": email, "password": password, **extra})
    assert answer.status_code == 201, answer.get_json()
    body: dict = answer.get_json()
    return body


def test_a_token_is_issued_once_and_works(app: Flask, client: FlaskClient, db: Database) -> None:
    person = signed_in(app)
    issued = sign_in(client, person.email.upper(), name="laptop")  # email in any case
    assert set(issued) == {"id", "token", "name", "prefix", "created_at"}
    assert issued["name"] == "laptop" and issued["token"].startswith(issued["prefix"])
    with db.read() as session:
        stored = session.get(ApiToken, issued["id"])
        assert stored is not None and stored.token_hash == digest(issued["token"])
        assert issued["token"] not in repr(vars(stored))  # only its digest is kept

    me = client.get("/api/v1/me", headers=bearer(issued["token"]))
    assert me.status_code == 200
    assert me.get_json()["email"] == person.email and me.get_json()["memberships"] == []


def test_tokens_are_listed_without_their_secret(app: Flask, client: FlaskClient) -> None:
    person = signed_in(app)
    second = sign_in(client, person.email, name="phone")
    answer = client.get("/api/v1/tokens", headers=person.auth)
    assert answer.status_code == 200
    items = answer.get_json()["items"]
    assert [i["name"] for i in items] == ["tests", "phone"]
    assert all("token" not in i for i in items)
    assert person.token not in answer.text and second["token"] not in answer.text
    assert items[0]["last_used_at"] is not None  # this very request used it
    assert items[1]["last_used_at"] is None and items[1]["revoked_at"] is None

    other = signed_in(app)  # someone else's list holds only their own token
    theirs = client.get("/api/v1/tokens", headers=other.auth).get_json()["items"]
    assert len(theirs) == 1 and theirs[0]["id"] not in {i["id"] for i in items}


def test_a_revoked_token_stops_working(app: Flask, client: FlaskClient) -> None:
    person = signed_in(app)
    spare = sign_in(client, person.email, name="spare")
    answer = client.delete(f"/api/v1/tokens/{spare['id']}", headers=person.auth)
    assert answer.status_code == 204 and answer.data == b""
    refused = client.get("/api/v1/me", headers=bearer(spare["token"]))
    assert refused.status_code == 401 and refused.headers["Content-Type"] == PROBLEM
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    # Revoking twice is harmless; the list shows when it was revoked.
    assert client.delete(f"/api/v1/tokens/{spare['id']}", headers=person.auth).status_code == 204
    listed = {i["id"]: i for i in client.get("/api/v1/tokens", headers=person.auth).json["items"]}
    assert listed[spare["id"]]["revoked_at"] is not None
    # A token can revoke itself.
    assert client.delete(f"/api/v1/tokens/{listed_id(listed, 'tests')}", headers=person.auth)
    assert client.get("/api/v1/me", headers=person.auth).status_code == 401


def listed_id(listed: dict[int, dict], name: str) -> int:
    return next(i for i, item in listed.items() if item["name"] == name)


def test_nobody_revokes_someone_elses_token(app: Flask, client: FlaskClient) -> None:
    owner, other = signed_in(app), signed_in(app)
    token_id = client.get("/api/v1/tokens", headers=owner.auth).json["items"][0]["id"]
    for wrong in (token_id, 2**63, 10**30):
        answer = client.delete(f"/api/v1/tokens/{wrong}", headers=other.auth)
        assert answer.status_code == 404 and answer.headers["Content-Type"] == PROBLEM
    assert client.get("/api/v1/me", headers=owner.auth).status_code == 200


def test_bad_tokens_are_401_even_on_public_endpoints(
    app: Flask, client: FlaskClient, pot_slug: str
) -> None:
    person = signed_in(app)
    tampered = person.token[:-1] + ("A" if person.token[-1] != "A" else "B")
    for header in (
        f"Bearer {tampered}",
        "Bearer cp_short",
        f"Bearer {person.token}x",
        "Bearer " + "x" * 10_000,
        f"Basic {person.token}",
        "Bearer ",
        f"Bearer cp_{'é' * 43}",
    ):
        for path in ("/api/v1/me", f"/api/v1/pots/{pot_slug}"):
            answer = client.get(path, headers={"Authorization": header})
            assert answer.status_code == 401, (header[:30], path, answer.get_json())
            assert answer.headers["Content-Type"] == PROBLEM
    assert client.get("/api/v1/me").status_code == 401  # no token at all
    assert client.get(f"/api/v1/pots/{pot_slug}").status_code == 200  # public without one


def test_unknown_email_and_wrong_password_get_the_same_answer(
    app: Flask, client: FlaskClient, db: Database
) -> None:
    person = signed_in(app)
    wrong_password = client.post(
        "/api/v1/tokens", json={"email": person.email, "password": "not the password"}
    )
    unknown_email = client.post(
        "/api/v1/tokens", json={"email": new_email(), "password": "not the password"}
    )
    assert wrong_password.status_code == unknown_email.status_code == 401
    assert wrong_password.get_json() == unknown_email.get_json()
    assert wrong_password.headers["Content-Type"] == PROBLEM
    with db.read() as session:
        count = session.scalar(
            select(func.count()).select_from(ApiToken).where(ApiToken.user_id == person.user_id)
        )
    assert count == 1  # only the helper's token


def test_me_lists_memberships_with_roles(app: Flask, client: FlaskClient, pot_slug: str) -> None:
    _, token = member(app, pot_slug, "treasurer")
    body = client.get("/api/v1/me", headers=bearer(token)).get_json()
    assert [(m["pot"], m["role"]) for m in body["memberships"]] == [(pot_slug, "treasurer")]
    assert body["memberships"][0]["pot_name"] == "Test pot" and body["is_admin"] is False
    assert "password" not in str(body) and "hash" not in str(body)


def test_sign_in_refuses_bad_input_clearly(app: Flask, client: FlaskClient, db: Database) -> None:
    person = signed_in(app)
    for body in (
        {"email": 5, "password": PASSWORD},
        {"email": [person.email], "password": PASSWORD},
        {"email": person.email},
        {"email": person.email, "password": None},
        {"email": "x" * 10_000, "password": PASSWORD},
        {"email": person.email, "password": PASSWORD, "name": "n" * 10_000},
        {"email": person.email, "password": PASSWORD, "name": ""},
        {"email": person.email, "password": PASSWORD, "extra": 1},
    ):
        answer = client.post("/api/v1/tokens", json=body)
        assert answer.status_code == 422, (body, answer.get_json())
        assert answer.headers["Content-Type"] == PROBLEM and answer.get_json()["errors"]
    for raw in (b"not json", b"[1, 2]", b'"text"'):
        answer = client.post("/api/v1/tokens", data=raw, content_type="application/json")
        assert answer.status_code in (400, 422) and answer.headers["Content-Type"] == PROBLEM
    huge = client.post(
        "/api/v1/tokens",
        data=b'{"email": "' + b"a" * (2 * 1024 * 1024) + b'"}',
        content_type="application/json",
    )
    assert huge.status_code == 413 and huge.headers["Content-Type"] == PROBLEM
    with db.read() as session:
        count = session.scalar(
            select(func.count()).select_from(ApiToken).where(ApiToken.user_id == person.user_id)
        )
    assert count == 1  # nothing was issued
