"""Every API endpoint, every kind of caller: 401 without a token, 403 with the wrong role, and
through with the right one.

``MATRIX`` names who may call each endpoint. The first test compares it with the app's URL map,
so an endpoint added without an entry here fails the suite: decide who may call it, then add it.
Write endpoints get a valid body (``BODIES``), so that the answer is about who asks, never about
what they sent; object ids come from ``FACTORIES``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from people import SignedIn, joined, signed_in

from ledger import operations
from ledger.db import Database
from ledger.governance import proposals
from ledger.pb.rounds import RoundSchedule
from ledger.rounds import services as rounds
from ledger.timestamps import utcnow

PROBLEM = "application/problem+json"


class Access(Enum):
    PUBLIC = "anyone, anonymous included"
    CREDENTIALS = "anyone; the body carries the credentials (sign-in, invitation token)"
    SIGNED_IN = "any signed-in person"
    MEMBER = "members of the pot, any role"
    TREASURER = "treasurers of the pot"
    STEWARD = "stewards of the pot"
    SELF_OR_STEWARD = "the member themselves, or a steward"


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # OpenAPI style: /api/v1/pots/{slug}

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


A = Access
MATRIX: dict[str, Access] = {
    # sign-in and me
    "POST /api/v1/tokens": A.CREDENTIALS,
    "GET /api/v1/tokens": A.SIGNED_IN,
    "DELETE /api/v1/tokens/{token_id}": A.SIGNED_IN,
    "GET /api/v1/me": A.SIGNED_IN,
    # pots and their ledger
    "GET /api/v1/pots": A.PUBLIC,
    "GET /api/v1/pots/{slug}": A.PUBLIC,
    "GET /api/v1/pots/{slug}/entries": A.PUBLIC,
    "POST /api/v1/pots/{slug}/entries": A.TREASURER,
    "GET /api/v1/pots/{slug}/entries/{seq}": A.PUBLIC,
    "GET /api/v1/pots/{slug}/checkpoint": A.PUBLIC,
    "GET /api/v1/pots/{slug}/proofs/inclusion": A.PUBLIC,
    "GET /api/v1/pots/{slug}/proofs/consistency": A.PUBLIC,
    "GET /api/v1/keys": A.PUBLIC,
    # members and the audit log
    "GET /api/v1/pots/{slug}/members": A.MEMBER,
    "POST /api/v1/pots/{slug}/members": A.STEWARD,
    "PATCH /api/v1/pots/{slug}/members/{user_id}": A.STEWARD,
    "DELETE /api/v1/pots/{slug}/members/{user_id}": A.SELF_OR_STEWARD,
    "GET /api/v1/pots/{slug}/invitations": A.STEWARD,
    "DELETE /api/v1/pots/{slug}/invitations/{invitation_id}": A.STEWARD,
    "POST /api/v1/invitations/accept": A.CREDENTIALS,
    "GET /api/v1/pots/{slug}/events": A.PUBLIC,
    # Open Collective
    "GET /api/v1/pots/{slug}/opencollective": A.PUBLIC,
    "POST /api/v1/pots/{slug}/opencollective/link": A.STEWARD,
    "GET /api/v1/pots/{slug}/reconciliation": A.PUBLIC,
    "POST /api/v1/pots/{slug}/reconciliation/resolutions": A.TREASURER,
    # rules and proposals
    "GET /api/v1/pots/{slug}/rules": A.PUBLIC,
    "PUT /api/v1/pots/{slug}/rules": A.STEWARD,
    "GET /api/v1/pots/{slug}/rules/history": A.PUBLIC,
    "GET /api/v1/pots/{slug}/proposals": A.PUBLIC,
    "POST /api/v1/pots/{slug}/proposals": A.MEMBER,
    "GET /api/v1/proposals/{proposal_id}": A.PUBLIC,
    "POST /api/v1/proposals/{proposal_id}/open": A.SIGNED_IN,  # its proposer: see below
    "POST /api/v1/proposals/{proposal_id}/withdraw": A.SIGNED_IN,  # its proposer
    "POST /api/v1/proposals/{proposal_id}/votes": A.MEMBER,
    "POST /api/v1/proposals/{proposal_id}/close": A.TREASURER,
    "POST /api/v1/proposals/{proposal_id}/payouts": A.TREASURER,
    # participatory budgeting rounds
    "GET /api/v1/pots/{slug}/rounds": A.PUBLIC,
    "POST /api/v1/pots/{slug}/rounds": A.STEWARD,
    "GET /api/v1/rounds/{round_id}": A.PUBLIC,
    "GET /api/v1/rounds/{round_id}/projects": A.PUBLIC,
    "POST /api/v1/rounds/{round_id}/projects": A.MEMBER,
    "POST /api/v1/rounds/{round_id}/projects/{project_id}/review": A.STEWARD,
    "GET /api/v1/rounds/{round_id}/ballot": A.MEMBER,
    "PUT /api/v1/rounds/{round_id}/ballot": A.MEMBER,
    "DELETE /api/v1/rounds/{round_id}/ballot": A.MEMBER,
    "PUT /api/v1/rounds/{round_id}/pledges": A.MEMBER,
    "GET /api/v1/rounds/{round_id}/results": A.PUBLIC,
    "GET /api/v1/rounds/{round_id}/export.pb": A.PUBLIC,
}

#: Not endpoints of the API proper: its documentation.
DOCUMENTATION = {
    "GET /api/v1/openapi.json",
    "GET /api/v1/docs",
    "GET /api/v1/docs/assets/{filename}",
}

#: A valid body for each write endpoint that reads one (else ``{}``).
BODIES: dict[str, Any] = {
    "POST /api/v1/tokens": {"email": "nobody@example.org", "password": "x" * 12},
    "POST /api/v1/pots/{slug}/entries": {"kind": "contribution", "amount": 100, "memo": "m"},
    "POST /api/v1/pots/{slug}/members": {"email": "new@example.org", "role": "member"},
    "PATCH /api/v1/pots/{slug}/members/{user_id}": {"role": "member"},
    "POST /api/v1/invitations/accept": {"token": "cpi_" + "A" * 43},
    "POST /api/v1/pots/{slug}/opencollective/link": {"collective": "nowhere"},
    "POST /api/v1/pots/{slug}/reconciliation/resolutions": {"item": "balance", "action": "import"},
    "PUT /api/v1/pots/{slug}/rules": {
        "rule": {"kind": "stewards", "approvals_needed": 1},
        "voting_window_hours": 24,
        "max_open_proposals_per_member": 3,
    },
    "POST /api/v1/pots/{slug}/proposals": {
        "title": "Venue hire",
        "summary": "For the meet-up",
        "amount": 100,
        "payee": {"name": "The Hall"},
    },
    "POST /api/v1/proposals/{proposal_id}/votes": {"choice": "approve"},
    "POST /api/v1/proposals/{proposal_id}/payouts": {"amount": 1, "memo": "m"},
    "POST /api/v1/pots/{slug}/rounds": {
        "title": "Matrix round",
        "budget": 100,
        "schedule": {
            "proposals_open": "2030-01-01T09:00:00Z",
            "review_starts": "2030-01-08T09:00:00Z",
            "voting_starts": "2030-01-15T09:00:00Z",
            "results_at": "2030-01-22T09:00:00Z",
            "funded_at": "2030-01-29T09:00:00Z",
        },
    },
    "POST /api/v1/rounds/{round_id}/projects": {
        "title": "Reading group",
        "cost": 50,
        "payee": {"name": "Someone"},
    },
    "POST /api/v1/rounds/{round_id}/projects/{project_id}/review": {"eligible": True},
    "PUT /api/v1/rounds/{round_id}/ballot": {"projects": [1]},
    "PUT /api/v1/rounds/{round_id}/pledges": {"pledges": [{"project": 1, "amount": 1}]},
}

#: Who is "just below" each role: they must get a 403.
BELOW: dict[Access, tuple[str | None, ...]] = {
    A.MEMBER: (None,),  # signed in, not a member
    A.TREASURER: (None, "member"),
    A.STEWARD: (None, "member", "treasurer"),
}
#: The least role that passes.
ENOUGH: dict[Access, str] = {A.MEMBER: "member", A.TREASURER: "treasurer", A.STEWARD: "steward"}


def openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def endpoints_of(app: Flask) -> set[str]:
    found = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.add(f"{method} {openapi_path(rule.rule)}")
    return found - DOCUMENTATION


def test_every_endpoint_is_in_the_matrix(app: Flask) -> None:
    endpoints = endpoints_of(app)
    missing = sorted(endpoints - set(MATRIX))
    stale = sorted(set(MATRIX) - endpoints)
    assert not missing, f"decide who may call these, then add them to MATRIX: {missing}"
    assert not stale, f"these are in MATRIX but not in the app any more: {stale}"


def test_the_openapi_document_lists_the_same_endpoints(client: FlaskClient) -> None:
    document = client.get("/api/v1/openapi.json").get_json()
    documented = {
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method in operations
        if method in ("get", "post", "put", "patch", "delete")
    }
    assert documented == set(MATRIX)


# --- callers and objects -------------------------------------------------------------------


class World:
    """One pot with an object of every kind, and people to ask."""

    def __init__(self, app: Flask, db: Database, slug: str) -> None:
        self.app, self.db, self.slug = app, db, slug
        self._people: dict[str | None, SignedIn] = {}
        self._ids: dict[str, int] = {}

    def person(self, role: str | None) -> SignedIn:
        if role not in self._people:
            self._people[role] = (
                signed_in(self.app) if role is None else joined(self.app, self.slug, role)
            )
        return self._people[role]

    def object_id(self, name: str) -> int:
        if name not in self._ids:
            factory = FACTORIES.get(name)
            if factory is None:
                pytest.skip(f"no factory for {{{name}}} yet: add one to FACTORIES")
            self._ids[name] = factory(self)
        return self._ids[name]

    def url(self, path: str) -> str:
        def fill(match: re.Match[str]) -> str:
            name = match.group(1)
            if name == "slug":
                return self.slug
            if name == "seq":
                return "1"
            return str(self.object_id(name))

        return re.sub(r"\{([^{}]+)\}", fill, path)


def _proposal(world: World) -> int:
    author = joined(world.app, world.slug, "member")  # not a caller: callers may vote on it
    draft = proposals.Draft(title="Matrix", summary="", amount=100, payee_name="Someone")
    with world.db.write() as session:
        proposal = proposals.submit(
            session, world.slug, draft, user_id=author.user_id, open_now=True, now=utcnow()
        )
        return proposal.id


def _round(world: World) -> int:
    """An approval round taking proposals: open to every request, decided by none."""
    steward = joined(world.app, world.slug, "steward")  # not a caller
    now = utcnow()
    day = timedelta(days=1)
    schedule = RoundSchedule(
        now - day, now + 7 * day, now + 14 * day, now + 21 * day, now + 28 * day
    )
    with world.db.write() as session:
        operations.record(session, world.slug, "contribution", 10_000, memo="Matrix", actor="test")
        spec = rounds.RoundSpec(title="Matrix round", budget=5_000, schedule=schedule)
        return rounds.create_round(session, world.slug, spec, user_id=steward.user_id, now=now).id


def _project(world: World) -> int:
    round_id = world.object_id("round_id")
    author = joined(world.app, world.slug, "member")  # not a caller
    draft = rounds.ProjectDraft(title="Matrix project", cost=1_000, payee_name="Someone")
    with world.db.write() as session:
        project = rounds.submit_project(
            session, round_id, draft, user_id=author.user_id, now=utcnow()
        )
        return project.id


FACTORIES: dict[str, Callable[[World], int]] = {
    "proposal_id": _proposal,
    "round_id": _round,
    "project_id": _project,
    # A member of the pot who is no caller of the test: the target of member changes.
    "user_id": lambda world: joined(world.app, world.slug, "member").user_id,
    "invitation_id": lambda world: 999_999_999,  # the check comes before the lookup
    "token_id": lambda world: 999_999_999,
}


@pytest.fixture
def world(app: Flask, db: Database, pot_slug: str) -> World:
    return World(app, db, pot_slug)


def call(client: FlaskClient, world: World, key: str, who: SignedIn | None) -> Any:
    method, path = key.split(" ", 1)
    headers = who.auth if who else {}
    body = BODIES.get(key, {}) if method in ("POST", "PUT", "PATCH") else None
    return client.open(world.url(path), method=method, json=body, headers=headers)


# --- the matrix ----------------------------------------------------------------------------

GUARDED = [k for k, a in MATRIX.items() if a not in (A.PUBLIC, A.CREDENTIALS)]
BY_ROLE = [k for k, a in MATRIX.items() if a in BELOW]


#: Endpoints that do not yet answer as the matrix says, and why; each is an expected failure
#: (strict: once fixed, remove it from here).
KNOWN_GAPS: dict[str, str] = {}


def known_gap(request: pytest.FixtureRequest, key: str) -> None:
    if key in KNOWN_GAPS:
        request.applymarker(pytest.mark.xfail(reason=KNOWN_GAPS[key], strict=True))


@pytest.mark.parametrize("key", GUARDED)
def test_without_a_token_the_answer_is_401(
    request: pytest.FixtureRequest, client: FlaskClient, world: World, key: str
) -> None:
    known_gap(request, key)
    answer = call(client, world, key, None)
    assert answer.status_code == 401, (key, answer.status_code, answer.get_json())
    assert answer.headers["Content-Type"] == PROBLEM
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("key", sorted(MATRIX))
def test_a_revoked_token_is_401_everywhere(client: FlaskClient, world: World, key: str) -> None:
    who = world.person("steward")
    revoked = client.delete(f"/api/v1/tokens/{_own_token_id(client, who)}", headers=who.auth)
    assert revoked.status_code == 204
    answer = call(client, world, key, who)
    assert answer.status_code == 401, (key, answer.status_code, answer.get_json())


def _own_token_id(client: FlaskClient, who: SignedIn) -> int:
    items = client.get("/api/v1/tokens", headers=who.auth).get_json()["items"]
    return int(items[0]["id"])


@pytest.mark.parametrize("key", BY_ROLE)
def test_the_wrong_role_gets_403(
    request: pytest.FixtureRequest, client: FlaskClient, world: World, key: str
) -> None:
    known_gap(request, key)
    for role in BELOW[MATRIX[key]]:
        answer = call(client, world, key, world.person(role))
        assert answer.status_code == 403, (key, role, answer.status_code, answer.get_json())
        assert answer.headers["Content-Type"] == PROBLEM


@pytest.mark.parametrize("key", BY_ROLE)
def test_the_right_role_gets_through(client: FlaskClient, world: World, key: str) -> None:
    """Through the door, that is: the answer may still refuse the request, never the caller.
    Site admins pass every role check; what only members do (propose, vote) stays theirs."""
    callers = [world.person(ENOUGH[MATRIX[key]])]
    if MATRIX[key] is not A.MEMBER:
        callers.append(signed_in(world.app, admin=True))
    for who in callers:
        answer = call(client, world, key, who)
        assert answer.status_code not in (401, 403), (key, answer.get_json())


@pytest.mark.parametrize("key", [k for k, a in MATRIX.items() if a is A.PUBLIC])
def test_public_endpoints_answer_the_public(client: FlaskClient, world: World, key: str) -> None:
    answer = call(client, world, key, None)
    assert answer.status_code not in (401, 403) and answer.status_code < 500, (key, answer.text)


def test_only_the_member_or_a_steward_removes_a_member(client: FlaskClient, world: World) -> None:
    target = world.person("member")
    url = f"/api/v1/pots/{world.slug}/members/{target.user_id}"
    assert client.delete(url).status_code == 401
    for role in (None, "treasurer"):
        assert client.delete(url, headers=world.person(role).auth).status_code == 403
    assert client.delete(url, headers=target.auth).status_code == 204  # leaving
    other = joined(world.app, world.slug, "member")
    url = f"/api/v1/pots/{world.slug}/members/{other.user_id}"
    assert client.delete(url, headers=world.person("steward").auth).status_code == 204


def test_only_the_proposer_opens_or_withdraws(client: FlaskClient, world: World) -> None:
    proposal_id = world.object_id("proposal_id")
    for action in ("open", "withdraw"):
        url = f"/api/v1/proposals/{proposal_id}/{action}"
        for role in ("treasurer", "steward"):
            answer = client.post(url, headers=world.person(role).auth)
            assert answer.status_code == 403, (action, role, answer.get_json())
