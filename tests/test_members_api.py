"""Members over HTTP: stewards invite, the invited accept once, roles change, people leave or are
removed; the last steward stays; every change is in the public audit log, without emails."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from people import PASSWORD, SignedIn, bearer, joined, new_email, signed_in
from sqlalchemy import func, select

from ledger.db import Database
from ledger.people import membership as members
from ledger.people.models import Invitation, Membership, User
from ledger.pots import find_pot
from ledger.timestamps import utcnow

PROBLEM = "application/problem+json"
NEW_PASSWORD = "a long enough password"


@pytest.fixture
def steward(app: Flask, pot_slug: str) -> SignedIn:
    return joined(app, pot_slug, "steward")


def invite(client: FlaskClient, slug: str, by: SignedIn, email: str, role: str = "member") -> dict:
    answer = client.post(
        f"/api/v1/pots/{slug}/members", json={"email": email, "role": role}, headers=by.auth
    )
    assert answer.status_code == 201, answer.get_json()
    body: dict = answer.get_json()
    return body


def accept(client: FlaskClient, token: str, **extra: Any) -> Any:
    return client.post("/api/v1/invitations/accept", json={"token": token, **extra})


def events(client: FlaskClient, slug: str) -> list[dict]:
    items: list[dict] = client.get(f"/api/v1/pots/{slug}/events?limit=500").get_json()["items"]
    return items


def counts(db: Database, slug: str) -> tuple[int, int, int]:
    """(memberships, users, accepted invitations) of the pot and everyone: to see nothing moved."""
    with db.read() as session:
        pot = find_pot(session, slug)
        return (
            members.count_members(session, pot.id),
            session.scalar(select(func.count()).select_from(User)) or 0,
            session.scalar(
                select(func.count())
                .select_from(Invitation)
                .where(Invitation.pot_id == pot.id, Invitation.accepted_at.is_not(None))
            )
            or 0,
        )


def test_invite_accept_and_see_the_members(
    client: FlaskClient, pot_slug: str, steward: SignedIn
) -> None:
    email = new_email("ada")
    issued = invite(client, pot_slug, steward, email, "treasurer")
    assert issued["state"] == "pending" and issued["role"] == "treasurer"
    assert issued["token"].startswith("cpi_") and issued["accept_path"] == (
        "/api/v1/invitations/accept"
    )
    listed = client.get(f"/api/v1/pots/{pot_slug}/invitations", headers=steward.auth).get_json()
    pending = [i for i in listed["items"] if i["id"] == issued["id"]]
    assert pending[0]["email"] == email and "token" not in pending[0]

    answer = accept(client, issued["token"], name="Ada Lovelace", password=NEW_PASSWORD)
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert (body["pot"], body["role"], body["new_account"]) == (pot_slug, "treasurer", True)

    signed = client.post("/api/v1/tokens", json={"email": email, "password": NEW_PASSWORD})
    ada = bearer(signed.get_json()["token"])
    me = client.get("/api/v1/me", headers=ada).get_json()
    assert me["display_name"] == "Ada Lovelace"
    assert [(m["pot"], m["role"]) for m in me["memberships"]] == [(pot_slug, "treasurer")]
    roster = client.get(f"/api/v1/pots/{pot_slug}/members", headers=ada).get_json()["items"]
    assert [(m["display_name"], m["role"]) for m in roster][-1] == ("Ada Lovelace", "treasurer")
    assert all(set(m) == {"user_id", "display_name", "role", "joined_at"} for m in roster)

    log = events(client, pot_slug)
    assert [e["kind"] for e in log][-2:] == ["member_invited", "member_joined"]
    invited, joined_event = log[-2:]
    assert invited["actor"] == f"user:{steward.user_id}" and invited["actor_name"]
    assert invited["data"] == {"invitation": issued["id"], "role": "treasurer"}
    assert joined_event["actor"] == f"user:{body['user_id']}"
    assert joined_event["actor_name"] == "Ada Lovelace"
    assert joined_event["data"] == {
        "user": body["user_id"],
        "role": "treasurer",
        "invitation": issued["id"],
    }
    assert "@" not in str(log)  # the log is public: no email, ever


def test_an_invitation_works_once(
    client: FlaskClient, db: Database, pot_slug: str, steward: SignedIn
) -> None:
    token = invite(client, pot_slug, steward, new_email())["token"]
    assert accept(client, token, name="First", password=NEW_PASSWORD).status_code == 201
    before = counts(db, pot_slug)
    again = accept(client, token, name="Second", password=NEW_PASSWORD)
    assert again.status_code == 409 and again.headers["Content-Type"] == PROBLEM
    assert again.get_json()["title"] == "Invitation already used"
    assert counts(db, pot_slug) == before


def test_an_expired_invitation_is_refused(
    app: Flask, client: FlaskClient, db: Database, pot_slug: str
) -> None:
    with db.write() as session:
        old = members.invite(
            session, pot_slug, new_email(), "member", None, now=utcnow() - timedelta(days=15)
        )
    before = counts(db, pot_slug)
    answer = accept(client, old.token, name="Late", password=NEW_PASSWORD)
    assert answer.status_code == 409 and answer.get_json()["title"] == "Invitation expired"
    assert counts(db, pot_slug) == before
    with db.read() as session:
        shown = members.invitation_state(session.get(Invitation, old.invitation.id))
    assert shown == "expired"


def test_a_revoked_invitation_is_refused(
    client: FlaskClient, db: Database, pot_slug: str, steward: SignedIn
) -> None:
    issued = invite(client, pot_slug, steward, new_email())
    url = f"/api/v1/pots/{pot_slug}/invitations/{issued['id']}"
    assert client.delete(url, headers=steward.auth).status_code == 204
    assert client.delete(url, headers=steward.auth).status_code == 204  # twice: no change
    answer = accept(client, issued["token"], name="Too late", password=NEW_PASSWORD)
    assert answer.status_code == 409 and answer.get_json()["title"] == "Invitation revoked"
    log = events(client, pot_slug)
    assert [e["kind"] for e in log].count("invitation_revoked") == 1
    assert log[-1]["data"] == {"invitation": issued["id"]}


def test_inviting_again_replaces_the_pending_invitation(
    client: FlaskClient, pot_slug: str, steward: SignedIn
) -> None:
    email = new_email()
    first = invite(client, pot_slug, steward, email)
    second = invite(client, pot_slug, steward, email.upper(), "steward")
    assert events(client, pot_slug)[-1]["data"]["replaces"] == [first["id"]]
    assert accept(client, first["token"], name="X", password=NEW_PASSWORD).status_code == 409
    answer = accept(client, second["token"], name="X", password=NEW_PASSWORD)
    assert answer.status_code == 201 and answer.get_json()["role"] == "steward"


def test_an_invitation_for_another_email_is_refused_to_a_signed_in_user(
    app: Flask, client: FlaskClient, db: Database, pot_slug: str, steward: SignedIn
) -> None:
    issued = invite(client, pot_slug, steward, new_email("invited"))
    someone_else = signed_in(app)
    before = counts(db, pot_slug)
    answer = client.post(
        "/api/v1/invitations/accept", json={"token": issued["token"]}, headers=someone_else.auth
    )
    assert answer.status_code == 403 and answer.headers["Content-Type"] == PROBLEM
    assert "invited" not in answer.get_json()["detail"].split("@")[0][1:]  # masked address
    assert counts(db, pot_slug) == before


def test_an_existing_account_joins_with_its_password_or_signed_in(
    app: Flask, client: FlaskClient, db: Database, pot_slug: str, steward: SignedIn
) -> None:
    existing = signed_in(app, name="Grace")
    token = invite(client, pot_slug, steward, existing.email)["token"]
    before = counts(db, pot_slug)
    for extra in ({}, {"password": "not the password"}, {"name": "Grace", "password": "nope"}):
        answer = accept(client, token, **extra)
        assert answer.status_code == 401, answer.get_json()
    assert counts(db, pot_slug) == before
    answer = accept(client, token, password=PASSWORD)
    assert answer.status_code == 201 and answer.get_json()["new_account"] is False
    assert answer.get_json()["user_id"] == existing.user_id

    signed = signed_in(app)
    token = invite(client, pot_slug, steward, signed.email, "treasurer")["token"]
    answer = client.post("/api/v1/invitations/accept", json={"token": token}, headers=signed.auth)
    assert answer.status_code == 201 and answer.get_json()["user_id"] == signed.user_id


def test_members_cannot_be_invited_twice(
    client: FlaskClient, pot_slug: str, steward: SignedIn
) -> None:
    answer = client.post(
        f"/api/v1/pots/{pot_slug}/members",
        json={"email": steward.email, "role": "member"},
        headers=steward.auth,
    )
    assert answer.status_code == 409 and answer.get_json()["title"] == "Already a member"


def test_role_changes_and_removal_are_audited(
    app: Flask, client: FlaskClient, db: Database, pot_slug: str, steward: SignedIn
) -> None:
    ada = joined(app, pot_slug, "member")
    url = f"/api/v1/pots/{pot_slug}/members/{ada.user_id}"
    answer = client.patch(url, json={"role": "treasurer"}, headers=steward.auth)
    assert answer.status_code == 200 and answer.get_json()["role"] == "treasurer"
    assert events(client, pot_slug)[-1]["data"] == {
        "user": ada.user_id,
        "from": "member",
        "to": "treasurer",
    }
    count = len(events(client, pot_slug))
    assert client.patch(url, json={"role": "treasurer"}, headers=steward.auth).status_code == 200
    assert len(events(client, pot_slug)) == count  # the same role again records nothing

    assert client.delete(url, headers=steward.auth).status_code == 204
    last = events(client, pot_slug)[-1]
    assert last["kind"] == "member_removed" and last["actor"] == f"user:{steward.user_id}"
    assert last["data"] == {"user": ada.user_id, "role": "treasurer", "left": False}
    assert client.get("/api/v1/me", headers=ada.auth).get_json()["memberships"] == []
    with db.read() as session:
        pot = find_pot(session, pot_slug)
        assert members.role_in(session, pot.id, ada.user_id) is None
    gone = client.delete(url, headers=steward.auth)
    assert gone.status_code == 404 and gone.get_json()["title"] == "Member not found"


def test_a_member_may_leave_but_not_remove_others(
    app: Flask, client: FlaskClient, pot_slug: str, steward: SignedIn
) -> None:
    ada, bob = joined(app, pot_slug, "member"), joined(app, pot_slug, "treasurer")
    refused = client.delete(f"/api/v1/pots/{pot_slug}/members/{bob.user_id}", headers=ada.auth)
    assert refused.status_code == 403
    refused = client.patch(
        f"/api/v1/pots/{pot_slug}/members/{ada.user_id}",
        json={"role": "steward"},
        headers=ada.auth,
    )
    assert refused.status_code == 403  # nobody promotes themselves
    left = client.delete(f"/api/v1/pots/{pot_slug}/members/{ada.user_id}", headers=ada.auth)
    assert left.status_code == 204
    last = events(client, pot_slug)[-1]
    assert last["actor"] == f"user:{ada.user_id}" and last["data"]["left"] is True


def test_the_last_steward_stays(
    app: Flask, client: FlaskClient, db: Database, pot_slug: str, steward: SignedIn
) -> None:
    url = f"/api/v1/pots/{pot_slug}/members/{steward.user_id}"
    count = len(events(client, pot_slug))
    for answer in (
        client.patch(url, json={"role": "member"}, headers=steward.auth),
        client.delete(url, headers=steward.auth),
    ):
        assert answer.status_code == 409 and answer.headers["Content-Type"] == PROBLEM
        assert answer.get_json()["title"] == "The last steward cannot go"
        assert "another member a steward" in answer.get_json()["detail"]
    assert len(events(client, pot_slug)) == count
    # With a second steward, the first may step down.
    second = joined(app, pot_slug, "steward")
    assert client.patch(url, json={"role": "member"}, headers=second.auth).status_code == 200
    assert client.delete(
        f"/api/v1/pots/{pot_slug}/members/{second.user_id}", headers=second.auth
    ).json["title"] == ("The last steward cannot go")


def test_unknown_ids_are_404(client: FlaskClient, pot_slug: str, steward: SignedIn) -> None:
    for method, path, body in (
        ("patch", "members/999999999", {"role": "member"}),
        ("patch", f"members/{2**63}", {"role": "member"}),
        ("delete", "members/999999999", None),
        ("delete", f"invitations/{10**30}", None),
        ("delete", "invitations/999999999", None),
    ):
        answer = getattr(client, method)(
            f"/api/v1/pots/{pot_slug}/{path}", json=body, headers=steward.auth
        )
        assert answer.status_code == 404, (path, answer.get_json())
        assert answer.headers["Content-Type"] == PROBLEM
    unknown = accept(client, "cpi_" + "A" * 43, name="X", password=NEW_PASSWORD)
    assert unknown.status_code == 404 and unknown.get_json()["title"] == "Invitation not found"


def test_bad_input_is_refused_and_changes_nothing(
    app: Flask, client: FlaskClient, db: Database, pot_slug: str, steward: SignedIn
) -> None:
    token = invite(client, pot_slug, steward, new_email())["token"]
    before = counts(db, pot_slug)
    refusals = [
        accept(client, token, name="x" * 10_000, password=NEW_PASSWORD),
        accept(client, token, name="Ada\nLovelace", password=NEW_PASSWORD),
        accept(client, token, name="Ada", password="short"),
        accept(client, token, name="Ada", password="p" * 10_000),
        accept(client, token, name=["Ada"], password=NEW_PASSWORD),
        accept(client, token, password=NEW_PASSWORD),  # no name for a new account
        accept(client, 12345, name="Ada", password=NEW_PASSWORD),
        accept(client, "x" * 10_000, name="Ada", password=NEW_PASSWORD),
    ]
    for email, role in (
        (5, "member"),
        (["a@b.org"], "member"),
        ({"email": "a@b.org"}, "member"),
        ("not an email", "member"),
        ("a" * 10_000 + "@example.org", "member"),
        (new_email(), "admin"),
        (new_email(), None),
    ):
        refusals.append(
            client.post(
                f"/api/v1/pots/{pot_slug}/members",
                json={"email": email, "role": role},
                headers=steward.auth,
            )
        )
    refusals.append(
        client.patch(
            f"/api/v1/pots/{pot_slug}/members/{steward.user_id}",
            json={"role": "overlord"},
            headers=steward.auth,
        )
    )
    refusals.append(
        client.post(
            f"/api/v1/pots/{pot_slug}/members",
            data=b'{"email": "' + b"a" * (2 * 1024 * 1024) + b'", "role": "member"}',
            content_type="application/json",
            headers=steward.auth,
        )
    )
    for answer in refusals:
        assert answer.status_code in (400, 404, 413, 422), answer.get_json()
        assert answer.headers["Content-Type"] == PROBLEM
        body = answer.get_json()
        assert body["title"] and body["status"] == answer.status_code and body.get("detail")
    assert refusals[0].status_code == 422 and "name" in str(refusals[0].get_json()["errors"])
    assert refusals[-1].status_code == 413
    assert counts(db, pot_slug) == before
    with db.read() as session:
        pot = find_pot(session, pot_slug)
        assert len(members.list_invitations(session, pot)) == 2  # the steward's and this one
        assert (
            session.scalar(
                select(func.count()).select_from(Membership).where(Membership.pot_id == pot.id)
            )
            == 1
        )
    # The invitation still works after all that.
    answer = accept(client, token, name="Ada", password=NEW_PASSWORD)
    assert answer.status_code == 201


def test_the_member_list_is_for_members(
    app: Flask, client: FlaskClient, pot_slug: str, steward: SignedIn
) -> None:
    url = f"/api/v1/pots/{pot_slug}/members"
    assert client.get(url).status_code == 401
    assert client.get(url, headers=signed_in(app).auth).status_code == 403
    assert client.get(url, headers=joined(app, pot_slug, "member").auth).status_code == 200
    assert client.get(url, headers=signed_in(app, admin=True).auth).status_code == 200
    assert client.get(f"/api/v1/pots/{pot_slug}/events").status_code == 200  # the log: public


def test_events_come_a_page_at_a_time(
    app: Flask, client: FlaskClient, pot_slug: str, steward: SignedIn
) -> None:
    for _ in range(3):
        invite(client, pot_slug, steward, new_email())
    everything = events(client, pot_slug)
    assert [e["seq"] for e in everything] == list(range(1, len(everything) + 1))
    first = client.get(f"/api/v1/pots/{pot_slug}/events?limit=2").get_json()
    assert [e["seq"] for e in first["items"]] == [1, 2] and first["next_after"] == 2
    rest = client.get(f"/api/v1/pots/{pot_slug}/events?after=2&limit=500").get_json()
    assert first["items"] + rest["items"] == everything and rest["next_after"] is None
    for e_prev, e in itertools.pairwise(everything):
        assert e["prev_hash"] == e_prev["hash"]
    for query in ("limit=0", "limit=501", "after=-1", "after=x", f"after={2**64}"):
        answer = client.get(f"/api/v1/pots/{pot_slug}/events?{query}")
        assert answer.status_code == 422 and answer.headers["Content-Type"] == PROBLEM
    assert client.get("/api/v1/pots/no-such-pot/events").status_code == 404
