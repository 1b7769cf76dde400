"""Every list costs the same number of SQL statements for 3 rows as for 30, and says about
each row exactly what the row's own page says.

A list that read each row's rules version, tally, co-proposers and names one by one would cost
more statements with every row (N+1). The statements are counted on the app's own engine while
the test client makes the request (and reads the body, so streamed downloads count too), on
SQLite and PostgreSQL. The community is built through the services a request goes through,
with the clock set where a scene needs it: proposals under four rules versions (open and
secret ballots, late joiners allowed or not), with votes, co-proposers, drafts, withdrawals,
deadlines passed but not yet settled, approvals waiting for money, funded and partly paid
ones; rounds of both kinds in every phase, with ballots and pledges.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from people import database_of
from sqlalchemy import event

from app.api.proposals import ballot_key
from app.api.rounds import ballot_key as round_ballot_key
from community import PASSWORD, Person, fund, person
from ledger.db import Database
from ledger.governance import funding, proposals, rulebook
from ledger.journal import lock_pot
from ledger.pb.rounds import BallotLimits, RoundSchedule
from ledger.rounds import services, settlement
from ledger.timestamps import utcnow

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
#: The rules versions proposals open under, in turn; every one keeps many proposals open.
RULES: list[dict[str, Any]] = [
    {"rule": {"kind": "stewards", "approvals_needed": 1}},
    {
        "rule": {"kind": "consent", "min_participants": 1},
        "ballot": "secret",
        "late_joiners_may_vote": True,
    },
    {"rule": {"kind": "majority", "quorum_percent": 10, "approval_above_percent": 50}},
    {
        "rule": {"kind": "threshold", "approvals_needed": 2, "objections_to_reject": 2},
        "ballot": "secret",
    },
]
COMMON_RULES = {"voting_window_hours": 168, "max_open_proposals_per_member": 100}
#: What a proposal's own page adds to what the list says of it.
DETAIL_ONLY = ("timeline", "votes", "my_vote")


# -- counting ----------------------------------------------------------------------------------


@contextmanager
def counting(app: Flask) -> Iterator[list[str]]:
    """The SQL statements the app runs inside the block."""
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    engine = database_of(app).engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", seen)


def statements_for(
    app: Flask, client: FlaskClient, path: str, headers: dict[str, str] | None = None
) -> int:
    with counting(app) as statements:
        response = client.get(path, headers=headers)
        response.get_data()  # a streamed download reads the database while it is read
    assert response.status_code == 200, response.get_data(as_text=True)[:800]
    return len(statements)


def sign_in(client: FlaskClient, who: Person) -> None:
    page = client.get("/sign-in").get_data(as_text=True)
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page)
    assert token, page[:2000]
    response = client.post(
        "/sign-in", data={"csrf_token": token.group(1), "email": who.email, "password": PASSWORD}
    )
    assert response.status_code == 302


# -- a community with proposals ------------------------------------------------------------------


@dataclass
class Community:
    db: Database
    slug: str
    key: bytes
    now: datetime
    steward: Person
    members: list[Person]
    proposals: list[int] = field(default_factory=list)
    rules: int | None = None  # which of RULES is in force
    rounds: int = 0


def community(db: Database, slug: str, key: bytes) -> Community:
    now = utcnow()
    steward = person(db, slug, "steward", joined_at=now - 60 * DAY)
    members = [person(db, slug, "member", joined_at=now - 60 * DAY) for _ in range(6)]
    person(db, slug, "member", joined_at=now)  # joined after every vote opened
    fund(db, slug, 15_000)
    return Community(db, slug, key, now, steward, members)


def add_proposals(c: Community, n: int) -> None:
    for _ in range(n):
        i = len(c.proposals)
        if i == 25:  # money arrives: the first approvals are funded, one partly paid
            _fund_waiting(c, 30_000)
        c.proposals.append(_proposal(c, i))


def _proposal(c: Community, i: int) -> int:
    """The i-th proposal: its rules version and its scene vary with i.

    The member ``c.members[0]`` ("me") puts forward every proposal that may be approved
    (scenes 0 and 2) and votes only on ones that stay open or are withdrawn (scenes 1 and 4),
    so that whatever the length of a list, its rows are of the same kinds.
    """
    _choose_rules(c, i % len(RULES))
    scene = i % 5
    me, others = c.members[0], c.members[1:]
    proposer = me if scene in (0, 2) else others[i % len(others)]
    co = [m.id for m in others if m is not proposer][:2] if scene in (2, 3) else []
    voters = [m for m in others if m is not proposer and m.id not in co]
    opened = c.now - (20 * DAY if scene == 1 else HOUR)  # scene 1: its deadline has passed
    draft = proposals.Draft(
        title=f"Proposal {i} for *the* hall",
        summary=f"Item {i}: **bold** <script>x</script>",
        amount=20_000 + 10 * i,
        payee_name=f"Payee {i % 3}",
        payee_oc_slug="hall-co" if i % 2 else None,
        category=("events", "tools", None)[i % 3],
        co_proposers=co,
    )
    with c.db.write() as session:
        pid = proposals.submit(
            session, c.slug, draft, user_id=proposer.id, open_now=scene != 3, now=opened
        ).id
    if scene == 0:  # decided at once under the stewards rule
        _vote(c, pid, c.steward, "approve", opened + HOUR / 2)
    elif scene == 1:
        _vote(c, pid, me, "approve", opened + DAY)
    elif scene == 2:  # approved at once under the stewards and threshold rules
        for voter, choice in zip(voters, ("approve", "object", "abstain"), strict=False):
            _vote(c, pid, voter, choice, opened + HOUR / 4)
        _vote(c, pid, c.steward, "approve", opened + HOUR / 2)
    elif scene == 4:
        _vote(c, pid, me, "object", opened + HOUR / 4)
        with c.db.write() as session:
            proposals.withdraw(session, pid, user_id=proposer.id, now=opened + HOUR / 2)
    return pid


def drafter(c: Community) -> Person:
    """Who puts forward every draft (scene 3: ``others[i % 5]``, i % 5 == 3): the one reader
    who is listed every proposal; anyone else is listed the opened ones only."""
    others = c.members[1:]
    assert len(others) == 5
    return others[3]


def _fund_waiting(c: Community, amount: int) -> None:
    fund(c.db, c.slug, amount)
    with c.db.write() as session:
        funded = funding.fund_waiting(session, lock_pot(session, c.slug), now=c.now)
        first = funded[0].id
    with c.db.write() as session:
        proposals.pay(
            session, first, 5_000, memo=None, actor="test", idempotency_key=None, now=c.now
        )


def _choose_rules(c: Community, which: int) -> None:
    if c.rules == which:
        return
    with c.db.write() as session:
        pot = lock_pot(session, c.slug)
        data = {**COMMON_RULES, **RULES[which]}
        rulebook.change_rules(session, pot, data, user_id=c.steward.id, actor="test")
    c.rules = which


def _vote(c: Community, pid: int, who: Person, choice: str, when: datetime) -> None:
    with c.db.write() as session:
        proposals.vote(
            session,
            pid,
            user_id=who.id,
            choice=choice,
            reason=f"{choice} because",
            ballot_key=c.key,
            now=when,
        )


# -- proposals ---------------------------------------------------------------------------------


def proposal_lists(slug: str) -> list[str]:
    return [
        f"/api/v1/pots/{slug}/proposals?limit=200",
        f"/pots/{slug}/proposals",
        f"/pots/{slug}/proposals.csv",
        f"/pots/{slug}/proposals.json",
        "/me",
    ]


@pytest.fixture
def proposals_pot(app: Flask, db: Database, pot_slug: str) -> Community:
    with app.app_context():
        key = ballot_key()
    return community(db, pot_slug, key)


def test_proposal_lists_cost_the_same_for_3_and_30_proposals(
    app: Flask, client: FlaskClient, proposals_pot: Community
) -> None:
    c = proposals_pot
    sign_in(client, c.members[0])  # /me: their proposals, and the ones they voted on
    # The API lists its drafts too for their proposer: count that list (the public's is in it).
    by_whom = {proposal_lists(c.slug)[0]: drafter(c).auth}

    def costs() -> dict[str, int]:
        return {p: statements_for(app, client, p, by_whom.get(p)) for p in proposal_lists(c.slug)}

    add_proposals(c, 3)  # waiting for money, open past its deadline, open with co-proposers
    listed(client, c.slug, drafter(c))  # a token's first use is noted (a write): not counted
    few = costs()
    add_proposals(c, 27)
    assert costs() == few

    statuses = {p["status"] for p in listed(client, c.slug, drafter(c))}
    assert {"draft", "open", "approved", "funded", "partly_paid", "withdrawn"} <= statuses


def listed(client: FlaskClient, slug: str, reader: Person | None = None) -> list[dict[str, Any]]:
    headers = reader.auth if reader else None
    response = client.get(f"/api/v1/pots/{slug}/proposals?limit=200", headers=headers)
    assert response.status_code == 200, response.json
    items: list[dict[str, Any]] = response.json["items"]
    return items


def test_each_listed_proposal_is_what_its_own_page_says(
    client: FlaskClient, proposals_pot: Community
) -> None:
    c = proposals_pot
    add_proposals(c, 30)
    reader = drafter(c)
    items = listed(client, c.slug, reader)
    assert [p["id"] for p in items] == c.proposals
    for item in items:
        detail = client.get(f"/api/v1/proposals/{item['id']}", headers=reader.auth).json
        assert item == {k: v for k, v in detail.items() if k not in DETAIL_ONLY}
    assert not any("votes" in p or "my_vote" in p for p in items)  # nobody's vote is listed
    # The scenes the list must get right are all there (not only the easy ones).
    assert any(p["ballot"] == "secret" and p["tally"]["approvals"] for p in items)
    assert any(p["co_proposers"] for p in items)
    assert any(p["funding"]["waiting_position"] == 3 for p in items)
    assert any(p["status"] == "expired" and not p["decision_applied"] for p in items)
    assert len({p["rules_version"] for p in items}) > len(RULES)

    public = [p for p in items if p["opened_at"]]  # drafts are their proposers' alone
    assert len(public) < len(items) and listed(client, c.slug) == public
    downloaded = client.get(f"/pots/{c.slug}/proposals.json").json["proposals"]
    assert downloaded == [{k: v for k, v in p.items() if k != "summary_html"} for p in public]


# -- rounds ------------------------------------------------------------------------------------


def add_rounds(c: Community, n: int) -> None:
    for _ in range(n):
        _round(c, c.rounds)
        c.rounds += 1
    with c.db.write() as session:
        settlement.advance(session, c.slug, now=c.now)  # count and fund what is due


def _round(c: Community, i: int) -> None:
    """The i-th round: scheduled, voting now, counted, or funded; approval or co-funding."""
    kind = "cofunding" if i % 2 else "approval"
    start = c.now + DAY - (0 * DAY, 17 * DAY, 23 * DAY, 40 * DAY)[i % 4]
    spec = services.RoundSpec(
        title=f"Round {i}",
        budget=3_000,
        schedule=RoundSchedule(
            start, start + 7 * DAY, start + 14 * DAY, start + 21 * DAY, start + 28 * DAY
        ),
        kind=kind,
        rule="mes" if kind == "approval" else None,
        limits=BallotLimits(),
    )
    with c.db.write() as session:
        round_id = services.create_round(
            session, c.slug, spec, user_id=c.steward.id, now=start - HOUR
        ).id
    if i % 4 == 0:
        return  # not open for projects yet
    projects = []
    for n, who in enumerate(c.members[:3]):
        draft = services.ProjectDraft(
            title=f"Project {n}",
            cost=1_000 + 100 * n,
            payee_name="Payee",
            minimum=500 if kind == "cofunding" else None,
        )
        with c.db.write() as session:
            projects.append(
                services.submit_project(session, round_id, draft, user_id=who.id, now=start + DAY)
            )
    with c.db.write() as session:
        for project in projects:
            services.review_project(
                session,
                round_id,
                project.id,
                eligible=True,
                reason=None,
                user_id=c.steward.id,
                now=start + 8 * DAY,
            )
    voting = start + 15 * DAY
    with c.db.write() as session:
        for n, who in enumerate(c.members):
            if kind == "approval":
                chosen = [p.id for p in projects[: 1 + n % 3]]
                services.cast_ballot(
                    session, round_id, chosen, user_id=who.id, ballot_key=c.key, now=voting
                )
            else:
                services.set_pledges(
                    session,
                    round_id,
                    {projects[n % 3].id: 200},
                    user_id=who.id,
                    ballot_key=c.key,
                    now=voting,
                )


@pytest.fixture
def rounds_pot(app: Flask, db: Database, pot_slug: str) -> Community:
    with app.app_context():
        key = round_ballot_key()
    c = community(db, pot_slug, key)
    fund(db, pot_slug, 200_000)
    return c


def test_round_lists_cost_the_same_for_3_and_30_rounds(
    app: Flask, client: FlaskClient, rounds_pot: Community
) -> None:
    c = rounds_pot
    paths = [f"/api/v1/pots/{c.slug}/rounds", f"/pots/{c.slug}/rounds"]
    add_rounds(c, 4)  # one of each phase, both kinds
    few = {path: statements_for(app, client, path) for path in paths}
    add_rounds(c, 26)
    many = {path: statements_for(app, client, path) for path in paths}
    assert many == few


def test_each_listed_round_is_what_its_own_page_says(
    client: FlaskClient, rounds_pot: Community
) -> None:
    c = rounds_pot
    add_rounds(c, 8)
    items = client.get(f"/api/v1/pots/{c.slug}/rounds").json["items"]
    assert len(items) == 8
    for item in items:
        assert item == client.get(f"/api/v1/rounds/{item['id']}").json
    assert {r["phase"] for r in items} == {"scheduled", "voting", "results", "funded"}
    assert any(r["share"] for r in items) and any(r["ballots"] for r in items)
    assert any(r["counted"] for r in items) and not all(r["counted"] for r in items)
