"""Explanations of PB results: exact payments, a reason for every loser, nothing about voters."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import UnknownCurrency
from ledger.pb import (
    RULES,
    Election,
    Funding,
    MoneyFormat,
    PaymentGroup,
    Project,
    explain,
    greedy,
    load_pb,
    mes,
    mes_add1,
    mes_add1_greedy,
    mes_cardinality,
    pabulib_currency,
    project_totals,
    voter_accounts,
    voter_payments,
)

FIXTURES = Path(__file__).parent / "fixtures" / "pabulib"
GBP = MoneyFormat.whole_units("GBP")

# Budget £120, four voters with £30 each (the example in docs/participatory-budgeting.md).
#   a Community fridge (£60): voters 0, 1, 2    b Tool library (£40): voters 2, 3
#   c Mural (£50): voter 3                       d Seed swap (£25): voters 0, 1
# MES: a is cheapest per pound (£20 each from three supporters), then b (voter 2 has £10
# left and pays it, voter 3 pays £30); d's supporters have £20 left, c's only supporter £30.
HALL = Election(
    meta={},
    budget=120,
    projects={
        p.id: p
        for p in (
            Project("a", 60, "Community fridge"),
            Project("b", 40, "Tool library"),
            Project("c", 50, "Mural"),
            Project("d", 25, "Seed swap"),
        )
    },
    ballots=[frozenset("ad"), frozenset("ad"), frozenset("ab"), frozenset("bc")],
)


def test_mes_winners_say_how_the_cost_was_split() -> None:
    explanation = explain(HALL, mes(HALL), GBP)
    assert [p.project_id for p in explanation.projects] == ["a", "b", "d", "c"]
    a, b = explanation.project("a"), explanation.project("b")
    assert (a.won, a.funded_by, a.order, a.approvals, a.cost) == (
        True,
        Funding.EQUAL_SHARES,
        1,
        3,
        60,
    )
    assert a.payments == (PaymentGroup(3, Fraction(20), False),)
    assert a.reason == (
        "Funded (chosen first); it costs £60.00 and its 3 supporters each paid £20.00."
    )
    assert b.payments == (PaymentGroup(1, Fraction(30), False), PaymentGroup(1, Fraction(10), True))
    assert b.paid_by_supporters == 40
    assert b.reason == (
        "Funded (chosen second); it costs £40.00 and its 2 supporters shared it: "
        "1 paid £30.00 and 1 paid all they had left, £10.00."
    )


def test_mes_losers_say_why_they_could_not_be_afforded() -> None:
    explanation = explain(HALL, mes(HALL), GBP)
    c, d = explanation.project("c"), explanation.project("d")
    assert (c.won, c.supporters_money, c.after) == (False, 30, None)
    assert c.reason == (
        "Not funded: its one supporter had only £30.00, even before anything was chosen, "
        "and it costs £50.00."
    )
    assert (d.supporters_money, d.after) == (20, "a")
    assert d.reason == (
        "Not funded: its 2 supporters started with £60.00 between them. They also supported "
        'projects chosen before it (the last was "Community fridge" (a)), and after paying '
        "their part of those they had only £20.00 left between them; it costs £25.00."
    )


def test_mes_summary_gives_the_share() -> None:
    summary = explain(HALL, mes(HALL), GBP).summary
    assert "the £120.00 budget was split equally between the 4 voters, £30.00 each" in summary
    assert "2 of 4 projects funded, £100.00 of the £120.00 budget spent, £20.00 left" in summary


def test_greedy_explains_what_was_left_when_each_turn_came() -> None:
    explanation = explain(HALL, greedy(HALL), GBP)
    assert explanation.share is None
    a, d = explanation.project("a"), explanation.project("d")
    assert (a.funded_by, a.budget_left) == (Funding.GREEDY, 120)
    assert a.reason == (
        "Funded: with 3 approvals its turn came when £120.00 of the budget was left, "
        "and it costs £60.00."
    )
    assert d.budget_left == 20
    assert d.reason == (
        "Not funded: it did not fit: £20.00 of the budget was left when its turn came and "
        "it costs £25.00."
    )


def test_mes_add1_explains_the_raised_share() -> None:
    # Share 50 each: only y is affordable and x (60) would still fit, so the share is raised
    # by £1 ten times; at £60 both are bought and nothing else is left to fit.
    pair = Election(
        {}, 100, {"x": Project("x", 60), "y": Project("y", 30)}, [frozenset("x"), frozenset("y")]
    )
    explanation = explain(pair, mes_add1(pair), GBP)
    assert (explanation.share, explanation.share_raises) == (60, 10)
    assert "£50.00 each; to use more of the budget, every share was raised" in explanation.summary
    assert "to £60.00 each" in explanation.summary
    assert "raised by £1.00 10 times" in explanation.summary
    assert explanation.project("x").reason.endswith("its one supporter paid £60.00.")


def test_mes_add1_greedy_names_the_top_up_winners() -> None:
    rivals = Election(
        {}, 100, {"a": Project("a", 60), "b": Project("b", 60)}, [frozenset("a"), frozenset("b")]
    )
    explanation = explain(rivals, mes_add1_greedy(rivals), GBP)
    a, b = explanation.project("a"), explanation.project("b")
    assert (a.won, a.funded_by, a.budget_left, a.payments) == (True, Funding.TOP_UP, 100, ())
    assert a.reason.startswith("Funded in the top-up after equal shares: with 1 approval")
    assert not b.won
    assert b.reason.endswith(
        "The top-up could not fit it either: £40.00 of the budget was left when its turn came."
    )
    assert "Then what was left was spent on the most approved projects" in explanation.summary


def test_cardinality_rule_is_explained_per_project() -> None:
    explanation = explain(HALL, mes_cardinality(HALL), GBP)
    assert [p.project_id for p in explanation.projects if p.won] == ["d", "b"]
    assert "the smallest most that any supporter had to pay" in explanation.summary


def test_unapproved_projects_and_no_voters() -> None:
    lonely = Election({}, 100, {"a": Project("a", 30), "z": Project("z", 10)}, [frozenset("a")])
    assert explain(lonely, mes(lonely), GBP).project("z").reason == (
        "Not funded: nobody voted for it."
    )
    empty = Election({}, 100, {"a": Project("a", 30)}, [])
    explanation = explain(empty, mes(empty), GBP)
    assert explanation.summary.startswith("Method of Equal Shares: nobody voted.")
    assert explanation.project("a").reason == "Not funded: nobody voted for it."


def test_voter_payments_and_accounts() -> None:
    outcome = mes(HALL)
    assert voter_payments(outcome) == {
        0: {"a": 20},
        1: {"a": 20},
        2: {"a": 20, "b": 10},
        3: {"b": 30},
    }
    assert project_totals(outcome) == {"a": 60, "b": 40}
    accounts = voter_accounts(outcome, HALL.num_voters)
    assert [account.left for account in accounts] == [10, 10, 0, 0]
    with pytest.raises(ValueError, match="no share"):
        voter_accounts(greedy(HALL), HALL.num_voters)


def test_money_is_rounded_for_reading_only() -> None:
    pence = MoneyFormat.minor_units("GBP")
    assert pence.text(Fraction(1000, 3)) == "£3.33"
    assert pence.text(Fraction(2000, 3)) == "£6.67"
    assert pence.text(Fraction(2000, 3), down=True) == "£6.66"
    assert pence.text(Fraction(5, 2)) == "£0.03"  # halves go up
    assert pence.currency_unit == 100
    yen = MoneyFormat.whole_units("JPY")
    assert (yen.minor_per_unit, yen.currency_unit, yen.text(1200)) == (1, 1, "JP¥1,200")
    assert GBP.minor(Fraction(12345, 100)) == 12345
    with pytest.raises(UnknownCurrency):
        MoneyFormat("ZZZ")


def test_supporters_money_just_short_of_the_cost_reads_short() -> None:
    # Three voters share £100: 33.33... each; z (£100) needs all three but one is not a
    # supporter, so its two supporters hold £66.666..., shown rounded down.
    three = Election(
        {}, 100, {"z": Project("z", 100)}, [frozenset("z"), frozenset("z"), frozenset()]
    )
    assert "had only £66.66 between them" in explain(three, mes(three), GBP).project("z").reason


def test_currency_of_pabulib_files() -> None:
    election = load_pb(FIXTURES / "poland_gdynia_2020_oksywie-small.pb")
    assert pabulib_currency(election) == "PLN"
    assert pabulib_currency(Election({"currency": "eur"}, 1, {}, [])) == "EUR"
    assert pabulib_currency(Election({"currency": "euros"}, 1, {}, [])) is None
    assert pabulib_currency(Election({"country": "Atlantis"}, 1, {}, [])) is None


SMALLEST = sorted(FIXTURES.glob("*.pb"), key=lambda path: path.stat().st_size)[:3]


@pytest.mark.parametrize("rule", sorted(RULES))
@pytest.mark.parametrize("path", SMALLEST, ids=[path.name for path in SMALLEST])
def test_real_elections_are_explained(path: Path, rule: str) -> None:
    election = load_pb(path)
    outcome = RULES[rule](election)
    explanation = explain(election, outcome, MoneyFormat.whole_units("PLN"))
    check_explanation(election, explanation, outcome.winners)


# Small random elections. Voter ids are distinctive so that any leak would show.
_PROJECT_IDS = st.sampled_from(["p1", "p2", "p3", "p4", "p5", "p6"])


@st.composite
def elections(draw: st.DrawFn) -> Election:
    ids = sorted(draw(st.sets(_PROJECT_IDS, min_size=1)))
    projects = {i: Project(i, draw(st.integers(1, 60)), f"Project {i}") for i in ids}
    ballots = draw(st.lists(st.frozensets(st.sampled_from(ids)), max_size=9))
    voter_ids = [f"voter-secret-{n:03d}" for n in range(len(ballots))]
    budget = draw(st.integers(1, 200))
    return Election({}, budget, projects, ballots, voter_ids, [{} for _ in ballots])


def check_explanation(election: Election, explanation: object, winners: list[str]) -> None:
    from ledger.pb import Explanation

    assert isinstance(explanation, Explanation)
    assert sorted(p.project_id for p in explanation.projects) == sorted(election.projects)
    assert [p.project_id for p in explanation.projects if p.won] == winners
    approvals = election.approvals()
    for project in explanation.projects:
        assert project.approvals == approvals[project.project_id]
        assert project.reason.startswith("Funded" if project.won else "Not funded")
        if project.funded_by is Funding.EQUAL_SHARES:
            assert project.paid_by_supporters == project.cost
            assert sum(g.voters * g.amount for g in project.payments) == project.cost
            assert sum(g.voters for g in project.payments) == project.approvals
        if project.supporters_money is not None:
            assert project.supporters_money < project.cost


@settings(database=None, max_examples=60, deadline=None)
@given(elections(), st.sampled_from(sorted(RULES)))
def test_explanations_hold_for_any_election(election: Election, rule: str) -> None:
    outcome = RULES[rule](election)
    explanation = explain(election, outcome, GBP)
    check_explanation(election, explanation, outcome.winners)
    if outcome.share is not None:
        # Under MES the winners' supporters pay exactly the cost, nobody beyond their share.
        for project_id, total in project_totals(outcome).items():
            assert total == election.projects[project_id].cost
        for account in voter_accounts(outcome, election.num_voters):
            assert 0 <= account.left <= account.share
        for voter, paid in voter_payments(outcome).items():
            assert all(project_id in election.ballots[voter] for project_id in paid)


@settings(database=None, max_examples=60, deadline=None)
@given(elections(), st.sampled_from(sorted(RULES)))
def test_explanation_reveals_no_voter(election: Election, rule: str) -> None:
    explanation = explain(election, RULES[rule](election), GBP)
    published = json.dumps(explanation.as_dict()) + "\n".join(explanation.lines())
    assert "voter-secret" not in published
    assert "voter" not in json.dumps(list(explanation.as_dict()["projects"][0]))


def test_member_docs_quote_the_explanation_exactly() -> None:
    doc = Path(__file__).parent.parent / "docs" / "participatory-budgeting.md"
    quoted = " ".join(
        line.removeprefix(">").strip() for line in doc.read_text().splitlines() if line[:1] == ">"
    ).replace("**", "")
    explanation = explain(HALL, mes(HALL), GBP)
    for paragraph in explanation.lines():
        assert paragraph in quoted
