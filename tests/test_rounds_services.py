"""Rounds through their services, with a fake clock: the budget reserved, projects proposed
and reviewed, ballots checked, results counted once, winners funded once, the rest released."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from community import Person, fund, person
from ledger import audit
from ledger import pots as ledger_pots
from ledger.db import Database
from ledger.errors import Forbidden, InsufficientFunds, InvalidInput
from ledger.governance.models import Proposal
from ledger.models import Entry
from ledger.pb.rounds import (
    BallotLimits,
    BallotOverCost,
    IneligibleProject,
    RoundSchedule,
    TooFewProjects,
    TooManyProjects,
    UnknownProject,
)
from ledger.rounds import services, settlement
from ledger.rounds.errors import (
    InvalidPledge,
    NotAllowedToVote,
    VotingClosed,
    WrongKind,
    WrongPhase,
)
from ledger.rounds.models import RoundApproval, RoundBallot
from ledger.verify import verify_pot

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
KEY = b"k" * 32
#: A moment in each phase of a round scheduled from ``start``.
PROPOSALS, REVIEW, VOTING, RESULTS, FUNDED = (1 * DAY, 8 * DAY, 15 * DAY, 22 * DAY, 29 * DAY)


def schedule(start: datetime = START) -> RoundSchedule:
    return RoundSchedule(
        start, start + 7 * DAY, start + 14 * DAY, start + 21 * DAY, start + 28 * DAY
    )


def new_round(
    db: Database,
    slug: str,
    steward: Person,
    *,
    budget: int = 12_000,
    start: datetime = START,
    kind: str = "approval",
    rule: str | None = "mes",
    limits: BallotLimits | None = None,
) -> int:
    spec = services.RoundSpec(
        title="Spring round",
        budget=budget,
        schedule=schedule(start),
        kind=kind,
        rule=rule,
        limits=limits or BallotLimits(),
    )
    with db.write() as session:
        return services.create_round(session, slug, spec, user_id=steward.id, now=start).id


def propose(
    db: Database,
    round_id: int,
    who: Person,
    title: str,
    cost: int,
    *,
    minimum: int | None = None,
    now: datetime = START + PROPOSALS,
) -> int:
    draft = services.ProjectDraft(title=title, cost=cost, minimum=minimum, payee_name="Payee Ltd")
    with db.write() as session:
        return services.submit_project(session, round_id, draft, user_id=who.id, now=now).id


def review(
    db: Database,
    round_id: int,
    steward: Person,
    project_id: int,
    eligible: bool = True,
    reason: str | None = None,
    *,
    now: datetime = START + REVIEW,
) -> None:
    with db.write() as session:
        services.review_project(
            session,
            round_id,
            project_id,
            eligible=eligible,
            reason=reason,
            user_id=steward.id,
            now=now,
        )


def vote(
    db: Database,
    round_id: int,
    who: Person,
    projects: Sequence[int],
    *,
    now: datetime = START + VOTING,
) -> None:
    with db.write() as session:
        services.cast_ballot(session, round_id, projects, user_id=who.id, ballot_key=KEY, now=now)


def advance(db: Database, slug: str, now: datetime) -> list[int]:
    with db.write() as session:
        return [r.id for r in settlement.advance(session, slug, now=now)]


def balances(db: Database, slug: str) -> dict[str, int]:
    with db.read() as session:
        return ledger_pots.summarise(session, ledger_pots.get_pot(session, slug)).balances


def verified(db: Database, slug: str) -> None:
    with db.read() as session:
        pot = ledger_pots.get_pot(session, slug)
        report = verify_pot(session, pot)
        assert report.ok, report.problems
        assert audit.verify_events(session, pot)[1] is None


def members(db: Database, slug: str, n: int, joined: datetime = START) -> list[Person]:
    return [person(db, slug, "member", joined_at=joined) for _ in range(n)]


def village_hall(db: Database, slug: str) -> dict[str, Any]:
    """The worked example of docs/participatory-budgeting.md: £120, four voters."""
    steward = person(db, slug, "steward", joined_at=START)
    ana, bo, cy, dee = members(db, slug, 4)
    fund(db, slug, 50_000)
    round_id = new_round(db, slug, steward, budget=12_000, rule="mes")
    fridge = propose(db, round_id, ana, "Community fridge", 6_000)
    tools = propose(db, round_id, cy, "Tool library", 4_000)
    mural = propose(db, round_id, dee, "Mural", 5_000)
    seeds = propose(db, round_id, bo, "Seed swap", 2_500)
    for project in (fridge, tools, mural, seeds):
        review(db, round_id, steward, project)
    vote(db, round_id, ana, [fridge, seeds])
    vote(db, round_id, bo, [fridge, seeds])
    vote(db, round_id, cy, [fridge, tools])
    vote(db, round_id, dee, [tools, mural])
    return {
        "round": round_id,
        "steward": steward,
        "voters": (ana, bo, cy, dee),
        "projects": (fridge, tools, mural, seeds),
    }


def test_a_round_reserves_counts_and_funds_once(db: Database, pot_slug: str) -> None:
    hall = village_hall(db, pot_slug)
    round_id = hall["round"]
    fridge, tools, _, _ = hall["projects"]
    assert balances(db, pot_slug)[f"committed:round:{round_id}"] == 12_000
    assert balances(db, pot_slug)["available"] == 38_000

    assert advance(db, pot_slug, START + VOTING) == []  # voting still open
    assert advance(db, pot_slug, START + RESULTS) == [round_id]  # counted, not funded yet
    with db.read() as session:
        round_ = services.get_round(session, round_id)
        result = settlement.stored_result(session, round_)
        assert result is not None and not round_.funded
        assert settlement.awards_of(result) == [(fridge, 6_000), (tools, 4_000)]
    assert balances(db, pot_slug)[f"committed:round:{round_id}"] == 12_000

    assert advance(db, pot_slug, START + FUNDED) == [round_id]
    assert advance(db, pot_slug, START + FUNDED + DAY) == []  # funded exactly once
    money = balances(db, pot_slug)
    assert money[f"committed:round:{round_id}"] == 0
    assert money["available"] == 40_000  # £20 unspent came back
    with db.read() as session:
        proposals = session.scalars(
            select(Proposal).where(Proposal.category == f"round:{round_id}").order_by(Proposal.id)
        ).all()
        assert [(p.title, p.amount, p.status) for p in proposals] == [
            ("Community fridge", 6_000, "funded"),
            ("Tool library", 4_000, "funded"),
        ]
        for proposal in proposals:
            assert money[f"committed:proposal:{proposal.id}"] == proposal.amount
            assert proposal.funding_entry_seq is not None
        round_ = services.get_round(session, round_id)
        assert round_.funded and round_.state == "funded"
        assert services.phase_of(round_, START + FUNDED).value == "funded"
    verified(db, pot_slug)


def test_the_explanation_is_aggregate_and_ballots_name_nobody(db: Database, pot_slug: str) -> None:
    hall = village_hall(db, pot_slug)
    advance(db, pot_slug, START + RESULTS)
    with db.read() as session:
        round_ = services.get_round(session, hall["round"])
        result = settlement.stored_result(session, round_)
        assert result is not None
        keys = session.scalars(
            select(RoundBallot.voter_key).where(RoundBallot.round_id == round_.id)
        ).all()
        assert len(keys) == 4 and all(len(key) == 64 for key in keys)
        for key in keys:
            assert key not in result.explanation_json and key not in (result.pb_text or "")
        assert "user:" not in result.explanation_json
        events = audit.list_events(session, services.pot_of(session, round_), limit=1000)
        ballots = [e for e in events if e.kind.startswith("round_ballot")]
        assert len(ballots) == 4
        assert {e.actor for e in ballots} == {"secret ballot"}
        assert {e.data_json for e in ballots} == {f'{{"round":{round_.id}}}'}
    assert "£20.00 left unspent" in result.explanation_json


def test_a_round_needs_the_money(db: Database, pot_slug: str) -> None:
    steward = person(db, pot_slug, "steward")
    fund(db, pot_slug, 5_000)
    with pytest.raises(InsufficientFunds):
        new_round(db, pot_slug, steward, budget=5_001)
    with db.read() as session:
        pot = ledger_pots.get_pot(session, pot_slug)
        assert services.list_rounds(session, pot) == []
    assert balances(db, pot_slug)["available"] == 5_000


def test_only_stewards_create_and_review(db: Database, pot_slug: str) -> None:
    steward = person(db, pot_slug, "steward", joined_at=START)
    member = person(db, pot_slug, "member", joined_at=START)
    fund(db, pot_slug, 20_000)
    with pytest.raises(Forbidden):
        new_round(db, pot_slug, member)
    round_id = new_round(db, pot_slug, steward)
    project = propose(db, round_id, member, "Repair café", 3_000)
    with pytest.raises(Forbidden):
        review(db, round_id, member, project)
    with pytest.raises(InvalidInput, match="reason"):
        review(db, round_id, steward, project, eligible=False)  # a refusal needs a reason


def test_each_step_only_in_its_phase(db: Database, pot_slug: str) -> None:
    steward = person(db, pot_slug, "steward", joined_at=START)
    member = person(db, pot_slug, "member", joined_at=START)
    outsider = person(db, None, None)
    fund(db, pot_slug, 20_000)
    round_id = new_round(db, pot_slug, steward)
    with pytest.raises(WrongPhase, match="scheduled"):
        propose(db, round_id, member, "Too early", 1_000, now=START - DAY)
    with pytest.raises(Forbidden):
        propose(db, round_id, outsider, "Not a member", 1_000)
    with pytest.raises(InvalidInput, match="whole budget"):
        propose(db, round_id, member, "Too dear", 12_001)
    project = propose(db, round_id, member, "Repair café", 3_000)
    with pytest.raises(WrongPhase, match="review"):
        propose(db, round_id, member, "Too late", 1_000, now=START + REVIEW)
    with pytest.raises(WrongPhase):
        review(db, round_id, steward, project, now=START + PROPOSALS)
    with pytest.raises(VotingClosed, match="opens"):
        vote(db, round_id, member, [project], now=START + REVIEW)
    review(db, round_id, steward, project)
    with pytest.raises(WrongPhase):
        review(db, round_id, steward, project, now=START + VOTING)


def test_bad_ballots_are_refused_and_change_nothing(db: Database, pot_slug: str) -> None:
    steward = person(db, pot_slug, "steward", joined_at=START)
    voter = person(db, pot_slug, "member", joined_at=START)
    late = person(db, pot_slug, "member", joined_at=START + VOTING)
    outsider = person(db, None, None)
    fund(db, pot_slug, 20_000)
    limits = BallotLimits(min_projects=1, max_projects=2, max_cost=5_000)
    round_id = new_round(db, pot_slug, steward, limits=limits)
    a = propose(db, round_id, voter, "A", 2_000)
    b = propose(db, round_id, voter, "B", 2_500)
    c = propose(db, round_id, voter, "C", 3_000)
    bad = propose(db, round_id, voter, "Bad", 1_000)
    pending = propose(db, round_id, voter, "Never reviewed", 1_000)
    for project in (a, b, c):
        review(db, round_id, steward, project)
    review(db, round_id, steward, bad, eligible=False, reason="Outside the pot's purpose")
    vote(db, round_id, voter, [a])

    cases: list[tuple[type[Exception], list[int], str]] = [
        (TooManyProjects, [a, b, c], "at most 2 projects"),
        (BallotOverCost, [b, c], "£50.00"),
        (TooFewProjects, [], "at least 1 project"),
        (IneligibleProject, [a, bad], "not found eligible"),
        (IneligibleProject, [pending], "not found eligible"),
        (UnknownProject, [999_999], "not part of this round"),
    ]
    for error, ballot, message in cases:
        with pytest.raises(error, match=message):
            vote(db, round_id, voter, ballot)
    with pytest.raises(NotAllowedToVote, match="only members"):
        vote(db, round_id, outsider, [a])
    with pytest.raises(NotAllowedToVote, match="joined"):
        vote(db, round_id, late, [a], now=START + VOTING + DAY)
    with pytest.raises(VotingClosed, match="closed"):
        vote(db, round_id, voter, [b], now=START + RESULTS)
    with pytest.raises(WrongKind), db.write() as session:
        services.set_pledges(
            session, round_id, {a: 100}, user_id=voter.id, ballot_key=KEY, now=START + VOTING
        )
    with db.read() as session:
        round_ = services.get_round(session, round_id)
        ballot = services.my_ballot(session, round_, voter.id, KEY)
        assert ballot is not None and services.approved_by(session, ballot) == [a]
        assert session.scalars(
            select(RoundApproval).join(RoundBallot).where(RoundBallot.round_id == round_id)
        ).all()


def test_ballots_change_until_voting_closes(db: Database, pot_slug: str) -> None:
    steward = person(db, pot_slug, "steward", joined_at=START)
    voter = person(db, pot_slug, "member", joined_at=START)
    fund(db, pot_slug, 20_000)
    round_id = new_round(db, pot_slug, steward, rule="greedy")
    a = propose(db, round_id, voter, "A", 2_000)
    b = propose(db, round_id, voter, "B", 2_500)
    review(db, round_id, steward, a)
    review(db, round_id, steward, b)
    vote(db, round_id, voter, [a])
    vote(db, round_id, voter, [b], now=START + VOTING + DAY)
    with db.read() as session:
        round_ = services.get_round(session, round_id)
        assert services.approvals(session, round_) == {b: 1}
    advance(db, pot_slug, START + FUNDED)  # counts and funds in one go
    with db.read() as session:
        result = settlement.stored_result(session, services.get_round(session, round_id))
        assert result is not None
        # A project nobody approved is not funded, although greedy would have room for it.
        assert settlement.awards_of(result) == [(b, 2_500)]
    assert balances(db, pot_slug)["available"] == 20_000 - 2_500
    verified(db, pot_slug)


def test_a_round_without_ballots_gives_its_budget_back(db: Database, pot_slug: str) -> None:
    steward = person(db, pot_slug, "steward", joined_at=START)
    fund(db, pot_slug, 20_000)
    round_id = new_round(db, pot_slug, steward, rule="mes_add1_greedy")
    propose(db, round_id, steward, "Unloved", 2_000)
    assert advance(db, pot_slug, START + FUNDED) == [round_id]
    assert balances(db, pot_slug)["available"] == 20_000
    assert balances(db, pot_slug)[f"committed:round:{round_id}"] == 0
    verified(db, pot_slug)


def pledge(
    db: Database,
    round_id: int,
    who: Person,
    pledges: dict[int, int],
    *,
    now: datetime = START + VOTING,
) -> None:
    with db.write() as session:
        services.set_pledges(session, round_id, pledges, user_id=who.id, ballot_key=KEY, now=now)


def test_cofunding_round(db: Database, pot_slug: str) -> None:
    steward = person(db, pot_slug, "steward", joined_at=START)
    ana, bo, cy = members(db, pot_slug, 3)
    fund(db, pot_slug, 100_000)
    # Four members (the steward too) share £400: £100 each.
    round_id = new_round(db, pot_slug, steward, budget=40_000, kind="cofunding", rule=None)
    garden = propose(db, round_id, ana, "Garden", 20_000, minimum=15_000)
    film = propose(db, round_id, bo, "Film night", 9_000, minimum=8_000)
    bad = propose(db, round_id, cy, "Off topic", 5_000, minimum=1_000)
    review(db, round_id, steward, garden)
    review(db, round_id, steward, film)
    review(db, round_id, steward, bad, eligible=False, reason="Not what the pot is for")

    pledge(db, round_id, ana, {garden: 10_000})
    pledge(db, round_id, bo, {garden: 6_000, film: 4_000})
    with pytest.raises(InvalidPledge, match="more than your share"):
        pledge(db, round_id, cy, {garden: 5_000, film: 6_000})
    with pytest.raises(InvalidPledge, match=r"at most £200\.00"):
        pledge(db, round_id, cy, {garden: 4_001})
    with pytest.raises(InvalidPledge, match="not found eligible"):
        pledge(db, round_id, cy, {bad: 1_000})
    with pytest.raises(WrongKind):
        vote(db, round_id, cy, [garden])
    pledge(db, round_id, cy, {garden: 1_000, film: 1_000})
    pledge(db, round_id, cy, {garden: 2_000})  # replaces cy's pledges

    assert advance(db, pot_slug, START + FUNDED) == [round_id]
    with db.read() as session:
        round_ = services.get_round(session, round_id)
        result = settlement.stored_result(session, round_)
        assert result is not None
        # Garden reached its £150 minimum with £180; film night's £40 fell short of £80.
        assert settlement.awards_of(result) == [(garden, 18_000)]
        assert "£100.00 each" in result.explanation_json
    money = balances(db, pot_slug)
    assert money[f"committed:round:{round_id}"] == 0
    assert money["available"] == 100_000 - 18_000
    verified(db, pot_slug)


def test_settling_writes_one_batch_of_entries(db: Database, pot_slug: str) -> None:
    hall = village_hall(db, pot_slug)
    advance(db, pot_slug, START + FUNDED)
    with db.read() as session:
        pot = ledger_pots.get_pot(session, pot_slug)
        round_ = services.get_round(session, hall["round"])
        entries = session.scalars(
            select(Entry)
            .where(Entry.pot_id == pot.id, Entry.seq >= round_.settlement_entry_seq)
            .order_by(Entry.seq)
        ).all()
        assert [e.kind for e in entries] == ["release", "allocation", "allocation"]
        assert len({e.recorded_at for e in entries}) == 1
