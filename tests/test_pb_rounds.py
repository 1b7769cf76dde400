"""Rounds without the database: the calendar, ballot limits, counting, and the .pb export."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import InvalidInput
from ledger.pb import Election, Project, mes_add1, mes_add1_greedy, parse_pb
from ledger.pb.rounds import (
    BallotLimits,
    BallotOverCost,
    IneligibleProject,
    InvalidBallot,
    InvalidRound,
    InvalidSchedule,
    Phase,
    RoundProject,
    RoundSchedule,
    TooFewProjects,
    TooManyProjects,
    UnknownProject,
    check_ballot,
    count_round,
    phase_at,
)

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def schedule(**changes: datetime) -> RoundSchedule:
    dates = {
        "proposals_open": START,
        "review_starts": START + 14 * DAY,
        "voting_starts": START + 21 * DAY,
        "results_at": START + 35 * DAY,
        "funded_at": START + 42 * DAY,
    }
    return RoundSchedule(**{**dates, **changes})


@pytest.mark.parametrize(
    ("moment", "phase"),
    [
        (START - timedelta(seconds=1), Phase.SCHEDULED),
        (START, Phase.PROPOSALS),
        (START + 14 * DAY - timedelta(microseconds=1), Phase.PROPOSALS),
        (START + 14 * DAY, Phase.REVIEW),
        (START + 21 * DAY, Phase.VOTING),
        (START + 35 * DAY - timedelta(seconds=1), Phase.VOTING),
        (START + 35 * DAY, Phase.RESULTS),
        (START + 42 * DAY, Phase.FUNDED),
        (START + 400 * DAY, Phase.FUNDED),
    ],
)
def test_phase_follows_the_clock(moment: datetime, phase: Phase) -> None:
    assert phase_at(schedule(), moment) is phase


def test_schedule_keeps_times_in_utc() -> None:
    paris = timezone(timedelta(hours=1))
    kept = schedule(proposals_open=datetime(2026, 3, 1, 10, 0, tzinfo=paris))
    assert kept.proposals_open == START and kept.proposals_open.tzinfo is UTC
    assert phase_at(kept, datetime(2026, 3, 1, 10, 0, tzinfo=paris)) is Phase.PROPOSALS


def test_schedule_refuses_naive_times_and_disorder() -> None:
    with pytest.raises(InvalidSchedule, match="voting_starts must say its timezone"):
        schedule(voting_starts=datetime(2026, 3, 22))
    with pytest.raises(
        InvalidSchedule, match=r"voting_starts \(.*\) must come after review_starts"
    ):
        schedule(voting_starts=START + 14 * DAY)
    with pytest.raises(InvalidSchedule, match=r"funded_at .* must come after results_at"):
        schedule(funded_at=START + 30 * DAY)
    with pytest.raises(InvalidSchedule, match="must be a date and time"):
        schedule(results_at="tomorrow")  # type: ignore[arg-type]
    with pytest.raises(InvalidSchedule, match="must say its timezone"):
        phase_at(schedule(), datetime(2026, 3, 2))
    assert issubclass(InvalidSchedule, InvalidInput)


PROJECTS = [
    RoundProject("1", 60_00, "Community fridge"),
    RoundProject("2", 40_00, "Tool library"),
    RoundProject("3", 50_00, "Mural"),
    RoundProject("4", 25_00, "Seed swap", eligible=False),
]


def test_valid_ballot_is_returned_as_a_set() -> None:
    limits = BallotLimits(min_projects=1, max_projects=2, max_cost=100_00)
    assert check_ballot(["2", "1"], PROJECTS, limits) == frozenset({"1", "2"})


BAD_BALLOTS = {
    "unknown": (["1", "9"], BallotLimits(), UnknownProject, "project '9' is not part of"),
    "ineligible": (["4"], BallotLimits(), IneligibleProject, "project '4' was not found eligible"),
    "twice": (["1", "1"], BallotLimits(), InvalidBallot, "project '1' is on the ballot twice"),
    "empty": ([], BallotLimits(), TooFewProjects, "at least 1 project (the round's minimum)"),
    "too_few": (["1"], BallotLimits(min_projects=2), TooFewProjects, "at least 2 projects"),
    "too_many": (
        ["1", "2", "3"],
        BallotLimits(max_projects=2),
        TooManyProjects,
        "at most 2 projects (the round's maximum); this one approves 3",
    ),
    "too_dear": (
        ["1", "2", "3"],
        BallotLimits(max_cost=100_00),
        BallotOverCost,
        "at most £100.00 together (the round's maximum cost per ballot); these cost £150.00",
    ),
}


@pytest.mark.parametrize(
    ("approved", "limits", "error", "message"), BAD_BALLOTS.values(), ids=BAD_BALLOTS.keys()
)
def test_bad_ballots_are_refused(
    approved: list[str], limits: BallotLimits, error: type[InvalidBallot], message: str
) -> None:
    with pytest.raises(error, match=re.escape(message)) as caught:
        check_ballot(approved, PROJECTS, limits, currency="GBP")
    assert isinstance(caught.value, InvalidInput)


def test_cost_limit_message_without_currency_uses_minor_units() -> None:
    with pytest.raises(BallotOverCost, match="at most 100 together"):
        check_ballot(["1", "2"], PROJECTS, BallotLimits(max_cost=100))


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        ({"min_projects": 0}, "min_projects must be at least 1"),
        ({"min_projects": 3, "max_projects": 2}, r"max_projects \(2\) is below min_projects"),
        ({"max_cost": 0}, "max_cost must be positive"),
        ({"max_projects": 2.5}, "must be a whole number"),
    ],
)
def test_impossible_limits_are_refused(limits: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        BallotLimits(**limits)  # type: ignore[arg-type]


# The hall example in pence: budget £120, £30 per voter.
HALL = [
    RoundProject("a", 60_00, "Community fridge"),
    RoundProject("b", 40_00, "Tool library"),
    RoundProject("c", 50_00, "Mural"),
    RoundProject("d", 25_00, "Seed swap"),
    RoundProject("e", 10_00, "Withdrawn", eligible=False),
]
HALL_BALLOTS = {"ana": ["a", "d"], "bo": ["d", "a"], "cy": ["a", "b"], "dee": ["b", "c"]}


def test_round_is_counted_with_equal_shares() -> None:
    result = count_round(HALL_BALLOTS, HALL, 120_00, "GBP", "mes")
    assert result.winners == ["a", "b"]
    assert (result.spent, result.unspent) == (100_00, 20_00)
    assert "e" not in result.election.projects
    assert result.payments_of("cy") == {"a": 20_00, "b": 10_00}
    assert result.payments_of("dee") == {"b": 30_00}
    explanation = result.explanation()
    assert explanation.project("b").reason.endswith(
        "1 paid £30.00 and 1 paid all they had left, £10.00."
    )
    assert "£30.00 each" in explanation.summary


def test_ballot_order_says_nothing_about_voters() -> None:
    named = count_round({"member-17": ["a"], 17: ["b"]}, HALL, 120_00, "GBP", "mes")
    assert "member-17" not in repr(named) and "member-17" not in named.to_pb()
    forward = count_round(HALL_BALLOTS, HALL, 120_00, "GBP", "mes")
    backward = count_round(dict(reversed(HALL_BALLOTS.items())), HALL, 120_00, "GBP", "mes")
    assert forward.election == backward.election
    assert forward.payments_of("ana") == backward.payments_of("ana")


def test_mes_add1_raises_shares_by_one_pound() -> None:
    pair = [RoundProject("x", 60_00), RoundProject("y", 30_00)]
    result = count_round({1: ["x"], 2: ["y"]}, pair, 100_00, "GBP", "mes_add1")
    assert result.winners == ["x", "y"]
    assert (result.outcome.share, result.outcome.share_raises) == (60_00, 10)
    assert result.outcome.mes_runs == 11  # not a thousand runs of a penny each
    assert "raised by £1.00 10 times" in result.explanation().summary


def test_rounds_that_cannot_be_counted() -> None:
    with pytest.raises(InvalidRound, match=r"not eligible in this round: \[.e.\]"):
        count_round({"ana": ["a", "e"]}, HALL, 120_00, "GBP", "mes")
    with pytest.raises(InvalidRound, match="unknown rule 'best'"):
        count_round(HALL_BALLOTS, HALL, 120_00, "GBP", "best")
    with pytest.raises(InvalidRound, match="budget must be a positive"):
        count_round(HALL_BALLOTS, HALL, 0, "GBP", "mes")
    with pytest.raises(InvalidInput, match="ISO 4217"):
        count_round(HALL_BALLOTS, HALL, 120_00, "GB", "mes")


def test_finished_round_exports_as_pb_in_whole_pounds() -> None:
    result = count_round(HALL_BALLOTS, HALL, 120_00, "GBP", "mes", description="Hall 2026")
    text = result.to_pb()
    assert "ana" not in text and "dee" not in text
    again = parse_pb(text)
    assert again.budget == 120
    assert {p.id: p.cost for p in again.projects.values()} == {"a": 60, "b": 40, "c": 50, "d": 25}
    assert {p.id for p in again.projects.values() if p.extra["selected"] == "1"} == {"a", "b"}
    assert again.meta["currency"] == "GBP" and again.meta["description"] == "Hall 2026"
    assert sorted(again.ballots, key=sorted) == sorted(result.election.ballots, key=sorted)


def test_export_keeps_pence_when_a_cost_has_them() -> None:
    projects = [RoundProject("a", 60_50), RoundProject("b", 40_00)]
    result = count_round({"ana": ["a"], "bo": ["b"]}, projects, 150_25, "GBP", "greedy")
    again = parse_pb(result.to_pb())
    assert again.meta["money_unit"] == "0.01"
    assert (again.budget, again.projects["a"].cost) == (150_25, 60_50)


@settings(database=None, max_examples=40, deadline=None)
@given(
    st.lists(st.integers(1, 40), min_size=1, max_size=5),
    st.lists(st.sets(st.integers(0, 4), min_size=1), min_size=1, max_size=7),
    st.integers(10, 150),
    st.sampled_from(["mes_add1", "mes_add1_greedy"]),
)
def test_round_in_pence_matches_the_election_in_pounds(
    costs: list[int], ballots: list[set[int]], budget: int, rule: str
) -> None:
    ids = [f"p{n}" for n in range(len(costs))]
    votes = {
        voter: [ids[n] for n in ballot if n < len(ids)] for voter, ballot in enumerate(ballots)
    }
    votes = {voter: approved for voter, approved in votes.items() if approved}
    projects = [RoundProject(i, cost * 100) for i, cost in zip(ids, costs, strict=True)]
    in_pence = count_round(votes, projects, budget * 100, "GBP", rule)
    approved_ids = {i for approved in votes.values() for i in approved}
    pounds = Election(
        {},
        budget,
        # A round counts out the projects nobody approved (greedy would fund them).
        {i: Project(i, cost) for i, cost in zip(ids, costs, strict=True) if i in approved_ids},
        [frozenset(approved) for approved in votes.values()],
    )
    in_pounds = (mes_add1 if rule == "mes_add1" else mes_add1_greedy)(pounds)
    assert in_pence.winners == in_pounds.winners
    assert in_pounds.share is not None and in_pence.outcome.share is not None
    assert in_pence.outcome.share == in_pounds.share * 100
    assert Fraction(in_pence.spent, 100) == in_pounds.spent
