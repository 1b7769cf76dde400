"""Rounds through the HTTP API, with the views' clock moved by the test: create (budget
reserved), propose, review, vote, results with their explanation, .pb export, funding; and
every refusal as an RFC 9457 problem that changes nothing."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from test_rounds_services import DAY, FUNDED, PROPOSALS, RESULTS, REVIEW, START, VOTING, verified

import app.api.rounds as rounds_api
from community import Person, fund, person
from ledger.db import Database


class Clock:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = START
        monkeypatch.setattr(rounds_api, "utcnow", lambda: self.now)

    def at(self, offset: timedelta) -> None:
        self.now = START + offset


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)


def round_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Spring round",
        "description": "What should the network fund this spring?",
        "rule": "mes",
        "budget": 12_000,
        "schedule": {
            "proposals_open": START.isoformat(),
            "review_starts": (START + 7 * DAY).isoformat(),
            "voting_starts": (START + 14 * DAY).isoformat(),
            "results_at": (START + 21 * DAY).isoformat(),
            "funded_at": (START + 28 * DAY).isoformat(),
        },
        "ballot_limits": {"max_projects": 3},
    }
    body.update(overrides)
    return body


def is_problem(response: Any, status: int, detail: str = "") -> None:
    assert response.status_code == status, response.json
    assert response.headers["Content-Type"] == "application/problem+json"
    assert detail in response.json["detail"], response.json["detail"]


def project(client: FlaskClient, round_id: int, who: Person, title: str, **money: int) -> int:
    body = {"title": title, "payee": {"name": "Payee Ltd"}, **money}
    response = client.post(f"/api/v1/rounds/{round_id}/projects", json=body, headers=who.auth)
    assert response.status_code == 201, response.json
    return int(response.json["id"])


def test_a_round_from_start_to_funded(
    client: FlaskClient, db: Database, pot_slug: str, clock: Clock
) -> None:
    steward = person(db, pot_slug, "steward", joined_at=START - DAY)
    ana, bo, cy, dee = (person(db, pot_slug, "member", joined_at=START - DAY) for _ in range(4))
    fund(db, pot_slug, 50_000)

    created = client.post(
        f"/api/v1/pots/{pot_slug}/rounds", json=round_body(), headers=steward.auth
    )
    assert created.status_code == 201, created.json
    round_id = created.json["id"]
    assert created.json["phase"] == "proposals"
    assert created.json["budget"] == {"amount": 12_000, "currency": "GBP"}
    pot = client.get(f"/api/v1/pots/{pot_slug}").json
    assert pot["totals"]["available"]["amount"] == 38_000
    assert pot["balances"][f"committed:round:{round_id}"]["amount"] == 12_000

    clock.at(PROPOSALS)
    fridge = project(client, round_id, ana, "Community fridge", cost=6_000)
    tools = project(client, round_id, cy, "Tool library", cost=4_000)
    mural = project(client, round_id, dee, "Mural", cost=5_000)
    seeds = project(client, round_id, bo, "Seed swap", cost=2_500)
    casino = project(client, round_id, bo, "Casino night", cost=1_000)

    clock.at(REVIEW)
    for project_id in (fridge, tools, mural, seeds):
        reviewed = client.post(
            f"/api/v1/rounds/{round_id}/projects/{project_id}/review",
            json={"eligible": True},
            headers=steward.auth,
        )
        assert reviewed.status_code == 200, reviewed.json
    refused = client.post(
        f"/api/v1/rounds/{round_id}/projects/{casino}/review",
        json={"eligible": False, "reason": "Gambling is outside the pot's purpose"},
        headers=steward.auth,
    )
    assert refused.json["review"] == "ineligible"

    clock.at(VOTING)
    for voter, ballot in (
        (ana, [fridge, seeds]),
        (bo, [fridge, seeds]),
        (cy, [fridge, tools]),
        (dee, [tools, mural]),
    ):
        cast = client.put(
            f"/api/v1/rounds/{round_id}/ballot", json={"projects": ballot}, headers=voter.auth
        )
        assert cast.status_code == 200, cast.json
        assert cast.json["projects"] == sorted(ballot)
    assert client.get(f"/api/v1/rounds/{round_id}/ballot", headers=dee.auth).json["projects"] == [
        tools,
        mural,
    ]
    tallies = {
        p["id"]: p["approvals"]
        for p in client.get(f"/api/v1/rounds/{round_id}/projects").json["items"]
    }
    assert tallies == {fridge: 3, tools: 2, mural: 1, seeds: 2, casino: 0}
    early = client.get(f"/api/v1/rounds/{round_id}/results")
    is_problem(early, 409, "when voting closes")

    clock.at(RESULTS)
    results = client.get(f"/api/v1/rounds/{round_id}/results")
    assert results.status_code == 200, results.json
    assert [w["project"] for w in results.json["winners"]] == [fridge, tools]
    assert results.json["spent"]["amount"] == 10_000
    assert results.json["unspent"]["amount"] == 2_000
    assert results.json["funded"] is False
    explained = {p["project_id"]: p for p in results.json["explanation"]["projects"]}
    assert explained[str(tools)]["reason"].startswith("Funded (chosen second)")
    assert explained[str(tools)]["payments"] == [
        {"voters": 1, "each": "3000", "all_they_had": False},
        {"voters": 1, "each": "1000", "all_they_had": True},
    ]
    assert "nobody voted" not in explained[str(mural)]["reason"]
    text = results.get_data(as_text=True)
    for voter in (ana, bo, cy, dee):
        assert voter.email not in text
    exported = client.get(f"/api/v1/rounds/{round_id}/export.pb")
    assert exported.status_code == 200
    assert exported.mimetype == "text/plain"
    pb = exported.get_data(as_text=True)
    assert "selected" in pb and "VOTES" in pb and "Community fridge" in pb

    clock.at(FUNDED)
    funded = client.get(f"/api/v1/rounds/{round_id}/results").json
    assert funded["funded"] is True
    proposal_ids = [w["proposal"] for w in funded["winners"]]
    assert all(isinstance(p, int) for p in proposal_ids)
    first = client.get(f"/api/v1/proposals/{proposal_ids[0]}").json
    assert first["status"] == "funded"
    assert first["funding"]["committed"] == {"amount": 6_000, "currency": "GBP"}
    # Decided by the round, never opened for a vote of their own: public all the same.
    public = client.get(f"/api/v1/pots/{pot_slug}/proposals").json["items"]
    assert set(proposal_ids) <= {p["id"] for p in public}
    assert client.get(f"/api/v1/rounds/{round_id}").json["phase"] == "funded"
    pot = client.get(f"/api/v1/pots/{pot_slug}").json
    assert pot["totals"]["available"]["amount"] == 40_000
    assert pot["balances"][f"committed:round:{round_id}"]["amount"] == 0
    verified(db, pot_slug)
    listed = client.get(f"/api/v1/pots/{pot_slug}/rounds").json["items"]
    assert [r["id"] for r in listed] == [round_id]


def test_bad_input_is_refused_with_a_problem(
    client: FlaskClient, db: Database, pot_slug: str, clock: Clock
) -> None:
    steward = person(db, pot_slug, "steward", joined_at=START - DAY)
    member = person(db, pot_slug, "member", joined_at=START - DAY)
    outsider = person(db, None, None)
    fund(db, pot_slug, 20_000)
    url = f"/api/v1/pots/{pot_slug}/rounds"

    is_problem(client.post(url, json=round_body(), headers=member.auth), 403, "steward")
    is_problem(client.post(url, json=round_body()), 401)
    is_problem(client.post(url, json=round_body(budget=30_000), headers=steward.auth), 409)
    backwards = round_body()
    backwards["schedule"]["funded_at"] = START.isoformat()
    is_problem(client.post(url, json=backwards, headers=steward.auth), 422, "must come after")
    naive = round_body()
    naive["schedule"]["proposals_open"] = "2026-03-01T09:00:00"
    assert client.post(url, json=naive, headers=steward.auth).status_code == 422
    is_problem(client.post(url, json=round_body(budget="12000"), headers=steward.auth), 422)
    is_problem(client.post(url, json=round_body(rule="best"), headers=steward.auth), 422)

    round_id = client.post(url, json=round_body(), headers=steward.auth).json["id"]
    clock.at(PROPOSALS)
    a, b, c, d = (project(client, round_id, member, t, cost=3_000) for t in "ABCD")
    bad = project(client, round_id, member, "Bad", cost=1_000)
    projects = f"/api/v1/rounds/{round_id}/projects"
    is_problem(
        client.post(
            projects, json={"title": "X", "cost": 1, "payee": {"name": "P"}}, headers=outsider.auth
        ),
        403,
    )
    is_problem(
        client.post(projects, json={"title": "X", "payee": {"name": "P"}}, headers=member.auth), 422
    )
    clock.at(REVIEW)
    for p in (a, b, c, d):
        client.post(f"{projects}/{p}/review", json={"eligible": True}, headers=steward.auth)
    client.post(
        f"{projects}/{bad}/review", json={"eligible": False, "reason": "No"}, headers=steward.auth
    )
    is_problem(
        client.post(
            projects, json={"title": "Late", "cost": 1, "payee": {"name": "P"}}, headers=member.auth
        ),
        409,
        "review phase",
    )

    clock.at(VOTING)
    ballot = f"/api/v1/rounds/{round_id}/ballot"
    assert client.put(ballot, json={"projects": [a]}, headers=member.auth).status_code == 200
    is_problem(
        client.put(ballot, json={"projects": [a, b, c, d]}, headers=member.auth), 422, "at most 3"
    )
    is_problem(
        client.put(ballot, json={"projects": [a, bad]}, headers=member.auth), 422, "eligible"
    )
    is_problem(client.put(ballot, json={"projects": []}, headers=member.auth), 422, "at least 1")
    is_problem(client.put(ballot, json={"projects": ["a"]}, headers=member.auth), 422)
    is_problem(client.put(ballot, json={"projects": [a]}, headers=outsider.auth), 403)
    is_problem(client.put(ballot, json={"projects": [a]}), 401)
    pledges = f"/api/v1/rounds/{round_id}/pledges"
    is_problem(
        client.put(pledges, json={"pledges": [{"project": a, "amount": 100}]}, headers=member.auth),
        409,
    )
    clock.at(RESULTS)
    is_problem(client.put(ballot, json={"projects": [b]}, headers=member.auth), 409, "closed")
    assert client.get(ballot, headers=member.auth).json["projects"] == [a]
    is_problem(client.get("/api/v1/rounds/999999999"), 404)


def test_cofunding_round_through_the_api(
    client: FlaskClient, db: Database, pot_slug: str, clock: Clock
) -> None:
    steward = person(db, pot_slug, "steward", joined_at=START - DAY)
    ana, bo = (person(db, pot_slug, "member", joined_at=START - DAY) for _ in range(2))
    fund(db, pot_slug, 30_000)
    body = round_body(kind="cofunding", budget=30_000, rule=None)
    created = client.post(f"/api/v1/pots/{pot_slug}/rounds", json=body, headers=steward.auth)
    assert created.status_code == 201, created.json
    round_id = created.json["id"]
    assert created.json["share"] == {"amount": 10_000, "currency": "GBP"}
    clock.at(PROPOSALS)
    garden = project(client, round_id, ana, "Garden", minimum=12_000, maximum=15_000)
    film = project(client, round_id, bo, "Film", minimum=9_000, maximum=9_000)
    clock.at(REVIEW)
    for p in (garden, film):
        client.post(
            f"/api/v1/rounds/{round_id}/projects/{p}/review",
            json={"eligible": True},
            headers=steward.auth,
        )
    clock.at(VOTING)
    pledges = f"/api/v1/rounds/{round_id}/pledges"
    for who, mine in ((ana, [(garden, 8_000)]), (bo, [(garden, 5_000), (film, 5_000)])):
        body = {"pledges": [{"project": p, "amount": a} for p, a in mine]}
        answer = client.put(pledges, json=body, headers=who.auth)
        assert answer.status_code == 200, answer.json
    over = {"pledges": [{"project": film, "amount": 10_001}]}
    is_problem(client.put(pledges, json=over, headers=steward.auth), 422, "share")
    mine = client.get(f"/api/v1/rounds/{round_id}/ballot", headers=bo.auth).json
    assert mine["pledges"] == [
        {"project": garden, "amount": {"amount": 5_000, "currency": "GBP"}},
        {"project": film, "amount": {"amount": 5_000, "currency": "GBP"}},
    ]
    clock.at(FUNDED)
    results = client.get(f"/api/v1/rounds/{round_id}/results").json
    assert [(w["project"], w["amount"]["amount"]) for w in results["winners"]] == [(garden, 13_000)]
    assert results["funded"] is True
    is_problem(client.get(f"/api/v1/rounds/{round_id}/export.pb"), 409, "co-funding")
    pot = client.get(f"/api/v1/pots/{pot_slug}").json
    assert pot["totals"]["available"]["amount"] == 30_000 - 13_000
    verified(db, pot_slug)


def test_phase_follows_the_real_clock(client: FlaskClient, db: Database, pot_slug: str) -> None:
    """Without a fake clock: a round whose dates are around now is in the phase they say."""
    steward = person(db, pot_slug, "steward")
    fund(db, pot_slug, 20_000)
    now = datetime.now(START.tzinfo)
    body = round_body()
    body["schedule"] = {
        "proposals_open": (now - 3 * DAY).isoformat(),
        "review_starts": (now - 2 * DAY).isoformat(),
        "voting_starts": (now - DAY).isoformat(),
        "results_at": (now + DAY).isoformat(),
        "funded_at": (now + 2 * DAY).isoformat(),
    }
    created = client.post(f"/api/v1/pots/{pot_slug}/rounds", json=body, headers=steward.auth)
    assert created.json["phase"] == "voting"
