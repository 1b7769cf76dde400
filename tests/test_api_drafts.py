"""Drafts through the HTTP API, on SQLite and PostgreSQL: a draft is its proposer's and
co-proposers' alone until it opens, as on the pages. Anyone else (the public, another member, a
steward, a treasurer, a site admin) finds nothing: 404 on every endpoint that reads or acts on a
proposal, exactly as for an id nobody used, and no draft in any list. The public audit log says
nothing about a draft until it opens; then one event carries the terms put to the vote."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient

from community import Person, fund, person
from ledger.db import Database
from ledger.governance import proposals

PROBLEM = "application/problem+json"
SECRET_TITLE = "Surprise party for the treasurer"
SECRET_PAYEE = "Leeds Bakery"
NOBODY = 999_999_999  # an id no proposal has

#: Every endpoint that acts on one proposal, with a valid body: the answer is about who asks.
ACTIONS: dict[str, dict[str, Any] | None] = {
    "open": None,
    "withdraw": None,
    "votes": {"choice": "approve"},
    "close": None,
    "payouts": {"amount": 100, "memo": "Cake"},
}
#: Who must not learn of someone else's draft (None: the public, without a token).
OUTSIDERS = ("public", "member", "steward", "treasurer", "admin")


@pytest.fixture
def people(db: Database, pot_slug: str) -> dict[str, Person]:
    """A funded pot (£500): a proposer, a co-proposer, and everyone else but the public."""
    fund(db, pot_slug, 50_000)
    return {
        "proposer": person(db, pot_slug, "member"),
        "co_proposer": person(db, pot_slug, "member"),
        "member": person(db, pot_slug, "member"),
        "steward": person(db, pot_slug, "steward"),
        "treasurer": person(db, pot_slug, "treasurer"),
        "admin": person(db, None, None, admin=True),
    }


def caller(people: dict[str, Person], name: str) -> Person | None:
    """One of ``people``, or None for the public."""
    return None if name == "public" else people[name]


def auth(who: Person | None) -> dict[str, str]:
    return who.auth if who else {}


def save_draft(client: FlaskClient, slug: str, people: dict[str, Person]) -> int:
    proposer, co = people["proposer"], people["co_proposer"]
    body = {
        "title": SECRET_TITLE,
        "summary": "Cake and **balloons**.",
        "amount": 4_200,
        "payee": {"name": SECRET_PAYEE},
        "category": "hush-hush",
        "co_proposers": [co.id],
        "draft": True,
    }
    saved = client.post(f"/api/v1/pots/{slug}/proposals", json=body, headers=proposer.auth)
    assert saved.status_code == 201, saved.json
    assert saved.json["status"] == "draft" and saved.json["timeline"] == []
    return int(saved.json["id"])


def listed_ids(client: FlaskClient, slug: str, who: Person | None, query: str = "") -> list[int]:
    answer = client.get(f"/api/v1/pots/{slug}/proposals?limit=200{query}", headers=auth(who))
    assert answer.status_code == 200, answer.json
    return [item["id"] for item in answer.json["items"]]


def events(client: FlaskClient, slug: str) -> list[dict[str, Any]]:
    answer = client.get(f"/api/v1/pots/{slug}/events?limit=500")
    assert answer.status_code == 200, answer.json
    items: list[dict[str, Any]] = answer.json["items"]
    return items


def act(client: FlaskClient, pid: int, action: str, who: Person | None) -> Any:
    return client.post(f"/api/v1/proposals/{pid}/{action}", json=ACTIONS[action], headers=auth(who))


def assert_not_found(answer: Any, pid: int) -> None:
    """The answer for an id nobody used, word for word but the id."""
    assert answer.status_code == 404, answer.json
    assert answer.headers["Content-Type"] == PROBLEM
    assert answer.json["title"] == "Proposal not found"
    assert answer.json["detail"] == f"there is no proposal {pid}"
    assert SECRET_TITLE not in answer.get_data(as_text=True)


def status_of(db: Database, pid: int) -> str:
    with db.read() as session:
        return str(proposals.get(session, pid).status)


# -- reading ------------------------------------------------------------------------------------


@pytest.mark.parametrize("outsider", OUTSIDERS)
def test_a_draft_is_not_found_by_anyone_else(
    client: FlaskClient, pot_slug: str, people: dict[str, Person], outsider: str
) -> None:
    pid = save_draft(client, pot_slug, people)
    who = caller(people, outsider)
    assert_not_found(client.get(f"/api/v1/proposals/{pid}", headers=auth(who)), pid)
    assert_not_found(client.get(f"/api/v1/proposals/{NOBODY}", headers=auth(who)), NOBODY)
    for query in ("", "&status=draft", "&category=hush-hush", f"&proposer={people['proposer'].id}"):
        assert pid not in listed_ids(client, pot_slug, who, query)
    everything = client.get(f"/api/v1/pots/{pot_slug}/proposals?limit=200", headers=auth(who))
    assert SECRET_TITLE not in everything.get_data(as_text=True)


@pytest.mark.parametrize("insider", ["proposer", "co_proposer"])
def test_its_proposer_and_co_proposers_read_and_list_it(
    client: FlaskClient, pot_slug: str, people: dict[str, Person], insider: str
) -> None:
    pid = save_draft(client, pot_slug, people)
    who = people[insider]
    read = client.get(f"/api/v1/proposals/{pid}", headers=who.auth)
    assert read.status_code == 200, read.json
    assert (read.json["title"], read.json["status"]) == (SECRET_TITLE, "draft")
    assert [c["id"] for c in read.json["co_proposers"]] == [people["co_proposer"].id]
    assert read.json["timeline"] == []  # nothing in the public log yet
    assert listed_ids(client, pot_slug, who) == [pid]
    assert listed_ids(client, pot_slug, who, "&status=draft") == [pid]
    assert listed_ids(client, pot_slug, who, "&status=open") == []


def test_a_list_holds_the_public_proposals_and_the_callers_own_drafts_in_order(
    client: FlaskClient, pot_slug: str, people: dict[str, Person]
) -> None:
    member = people["member"]
    before = client.post(
        f"/api/v1/pots/{pot_slug}/proposals",
        json={"title": "Open one", "amount": 100, "payee": {"name": "Hall"}},
        headers=member.auth,
    ).json["id"]
    draft = save_draft(client, pot_slug, people)
    own = client.post(
        f"/api/v1/pots/{pot_slug}/proposals",
        json={"title": "Mine", "amount": 100, "payee": {"name": "Hall"}, "draft": True},
        headers=member.auth,
    ).json["id"]
    assert listed_ids(client, pot_slug, None) == [before]
    assert listed_ids(client, pot_slug, member) == [before, own]
    assert listed_ids(client, pot_slug, people["proposer"]) == [before, draft]
    # Pages of one: the cursor walks the same list, drafts of others never in it.
    seen, cursor = [], ""
    while True:
        page = client.get(
            f"/api/v1/pots/{pot_slug}/proposals?limit=1{cursor}", headers=member.auth
        ).json
        seen += [item["id"] for item in page["items"]]
        if page["next_cursor"] is None:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert seen == [before, own]


# -- acting -------------------------------------------------------------------------------------


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_nobody_else_acts_on_a_draft(
    client: FlaskClient,
    db: Database,
    pot_slug: str,
    people: dict[str, Person],
    action: str,
) -> None:
    pid = save_draft(client, pot_slug, people)
    log = events(client, pot_slug)
    for outsider in OUTSIDERS:
        who = caller(people, outsider)
        draft_answer = act(client, pid, action, who)
        nobody_answer = act(client, NOBODY, action, who)
        if who is None:  # sign in first, whatever the id
            assert draft_answer.status_code == nobody_answer.status_code == 401
            assert draft_answer.json["detail"] == nobody_answer.json["detail"]
        else:
            assert_not_found(draft_answer, pid)
            assert_not_found(nobody_answer, NOBODY)
    assert status_of(db, pid) == "draft"
    assert events(client, pot_slug) == log


def test_its_co_proposer_reads_it_but_neither_opens_nor_withdraws_it(
    client: FlaskClient, db: Database, pot_slug: str, people: dict[str, Person]
) -> None:
    pid = save_draft(client, pot_slug, people)
    co = people["co_proposer"]
    for action in ("open", "withdraw"):
        answer = act(client, pid, action, co)
        assert answer.status_code == 403, answer.json
    assert act(client, pid, "votes", co).status_code == 409  # not open for votes
    assert status_of(db, pid) == "draft"


# -- the audit log ------------------------------------------------------------------------------


def test_the_log_says_nothing_of_a_draft_until_it_opens_then_once_with_its_terms(
    client: FlaskClient, db: Database, pot_slug: str, people: dict[str, Person]
) -> None:
    log = events(client, pot_slug)
    pid = save_draft(client, pot_slug, people)
    proposer, co = people["proposer"], people["co_proposer"]
    with db.write() as session:  # its proposer changes its terms (the pages' edit form)
        terms = proposals.Draft(title="Party", summary="", amount=3_000, payee_name="Bakery")
        proposals.revise(session, pid, terms, user_id=proposer.id)
    assert events(client, pot_slug) == log
    text = json.dumps(events(client, pot_slug))
    assert SECRET_TITLE not in text and SECRET_PAYEE not in text

    opened = act(client, pid, "open", proposer)
    assert opened.status_code == 200, opened.json
    new = events(client, pot_slug)[len(log) :]
    # The pot's first opening also records its default rules as version 1 (about no proposal).
    assert [(e["kind"], e["proposal_id"]) for e in new] == [
        ("rules_changed", None),
        ("proposal_opened", pid),
    ]
    data = new[1]["data"]
    assert (data["title"], data["amount"], data["currency"]) == ("Party", 3_000, "GBP")
    assert (data["payee"], data["co_proposers"]) == ("Bakery", [co.id])
    assert data["closes_at"] and data["rules_version"] == 1
    assert [e["kind"] for e in opened.json["timeline"]] == ["proposal_opened"]

    # Open, it is everyone's.
    for outsider in OUTSIDERS:
        who = caller(people, outsider)
        assert client.get(f"/api/v1/proposals/{pid}", headers=auth(who)).json["title"] == "Party"
        assert pid in listed_ids(client, pot_slug, who)


def test_a_draft_withdrawn_unopened_leaves_no_trace_and_stays_private(
    client: FlaskClient, db: Database, pot_slug: str, people: dict[str, Person]
) -> None:
    log = events(client, pot_slug)
    pid = save_draft(client, pot_slug, people)
    withdrawn = act(client, pid, "withdraw", people["proposer"])
    assert withdrawn.status_code == 200, withdrawn.json
    assert withdrawn.json["status"] == "withdrawn" and withdrawn.json["timeline"] == []
    assert events(client, pot_slug) == log
    for outsider in OUTSIDERS:
        who = caller(people, outsider)
        assert_not_found(client.get(f"/api/v1/proposals/{pid}", headers=auth(who)), pid)
        assert pid not in listed_ids(client, pot_slug, who, "&status=withdrawn")
        if who is not None:
            assert_not_found(act(client, pid, "votes", who), pid)
    # Its proposers still read it; like the pages, no list shows a withdrawn draft.
    for insider in ("proposer", "co_proposer"):
        who = people[insider]
        assert client.get(f"/api/v1/proposals/{pid}", headers=auth(who)).status_code == 200
        assert pid not in listed_ids(client, pot_slug, who)


def test_a_proposal_opened_at_once_is_recorded_as_made_then_opened(
    client: FlaskClient, pot_slug: str, people: dict[str, Person]
) -> None:
    """Never a draft, it is public from the start: the log keeps both steps."""
    member = people["member"]
    log = events(client, pot_slug)
    pid = client.post(
        f"/api/v1/pots/{pot_slug}/proposals",
        json={"title": "Venue", "amount": 100, "payee": {"name": "Hall"}},
        headers=member.auth,
    ).json["id"]
    new = [e for e in events(client, pot_slug)[len(log) :] if e["proposal_id"] == pid]
    assert [e["kind"] for e in new] == ["proposal_created", "proposal_opened"]
    assert new[0]["data"]["title"] == new[1]["data"]["title"] == "Venue"
