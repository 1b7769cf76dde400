"""PB rules against the reference outcomes of pabutools on 30 real pabulib elections.

``tests/fixtures/pabulib/expected.json`` holds, per file, the winners of each rule as computed
by pabutools 1.2.3 (see the README next to it). Every rule must reproduce them exactly.
"""

from __future__ import annotations

import json
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from ledger.pb import (
    RULES,
    Election,
    Outcome,
    Project,
    greedy,
    load_pb,
    mes,
    mes_add1,
    mes_add1_greedy,
    mes_cardinality,
)

FIXTURES = Path(__file__).parent / "fixtures" / "pabulib"
EXPECTED: dict[str, dict[str, Any]] = json.loads((FIXTURES / "expected.json").read_text())
FILES = sorted(EXPECTED)
RULE_NAMES = sorted(RULES)


@cache
def election(name: str) -> Election:
    return load_pb(FIXTURES / name)


def test_registry_names_the_five_rules() -> None:
    expected = {
        "greedy": greedy,
        "mes": mes,
        "mes_cardinality": mes_cardinality,
        "mes_add1": mes_add1,
        "mes_add1_greedy": mes_add1_greedy,
    }
    assert dict(RULES) == expected


def test_every_fixture_file_has_expectations() -> None:
    assert sorted(path.name for path in FIXTURES.glob("*.pb")) == FILES
    assert len(FILES) == 30


@pytest.mark.parametrize("name", FILES, ids=FILES)
def test_parsed_election_matches_sanity_fields(name: str) -> None:
    parsed, expected = election(name), EXPECTED[name]
    # expected.json truncates the one decimal budget (770039.52) to whole units.
    assert int(parsed.budget) == expected["budget"]
    assert len(parsed.projects) == expected["projects"]
    assert parsed.num_voters == expected["voters"]


def test_decimal_budget_is_kept_exactly() -> None:
    parsed = election("poland_warszawa_2018_grochow-poludniowy.pb")
    assert parsed.budget == Fraction(77003952, 100)


@pytest.mark.parametrize("rule", RULE_NAMES)
@pytest.mark.parametrize("name", FILES, ids=FILES)
def test_rule_reproduces_reference_outcome(name: str, rule: str) -> None:
    parsed = election(name)
    outcome = RULES[rule](parsed)
    assert set(outcome.winners) == set(EXPECTED[name][rule])
    assert len(outcome.winners) == len(set(outcome.winners))
    assert outcome.spent == sum(parsed.projects[p].cost for p in outcome.winners)
    assert outcome.spent <= parsed.budget
    assert outcome.rule == rule
    assert set(outcome.unfunded) == set(parsed.projects) - set(outcome.winners)
    if rule.startswith("mes"):
        check_mes_explanations(parsed, outcome)


def check_mes_explanations(parsed: Election, outcome: Outcome) -> None:
    """Payments add up, respect the cap, come from supporters, and never exceed the share."""
    assert outcome.share is not None
    paid_by: dict[int, Fraction] = {}
    mes_winners = [p for p in outcome.winners if p not in outcome.greedy_additions]
    assert list(outcome.funded) == mes_winners
    for project_id, funded in outcome.funded.items():
        cost = parsed.projects[project_id].cost
        assert sum(funded.payments.values()) == cost
        assert funded.rho in (funded.price / cost, funded.price)  # cost / cardinality utility
        for voter, amount in funded.payments.items():
            assert project_id in parsed.ballots[voter]
            assert 0 <= amount <= funded.price
            paid_by[voter] = paid_by.get(voter, Fraction(0)) + amount
        assert len(funded.payments) == sum(project_id in b for b in parsed.ballots)
    assert all(total <= outcome.share for total in paid_by.values())
    for project_id, reason in outcome.unfunded.items():
        if reason.supporters and reason.supporters_money is not None:
            assert reason.supporters_money < parsed.projects[project_id].cost


# A hand-checked example. Budget 120, four voters, so everyone starts with 30.
#   a (60): voters 0, 1, 2   b (40): voters 2, 3   c (50): voter 3   d (25): voters 0, 1
# Round 1 rhos (price per unit of cost utility): a 20/60 = 1/3, b 20/40 = 1/2, d 12.5/25 = 1/2;
# c is unaffordable (voter 3 holds 30 < 50). a wins; voters 0-2 pay 20 each.
# Round 2: d's supporters hold 10 + 10 = 20 < 25, so d lapsed after a. For b, voter 2 has
# only 10 left and pays it all; voter 3 pays the remaining 30: cap 30, rho 30/40 = 3/4.
SMALL = Election(
    meta={"description": "hand-made"},
    budget=120,
    projects={
        p.id: p for p in (Project("a", 60), Project("b", 40), Project("c", 50), Project("d", 25))
    },
    ballots=[frozenset("ad"), frozenset("ad"), frozenset("ab"), frozenset("bc")],
)


def test_mes_hand_example_payments() -> None:
    outcome = mes(SMALL)
    assert outcome.winners == ["a", "b"]
    assert outcome.spent == 100 and outcome.leftover == 20
    assert outcome.share == 30
    a, b = outcome.funded["a"], outcome.funded["b"]
    assert (a.round, a.rho, a.price) == (1, Fraction(1, 3), 20)
    assert a.payments == {0: 20, 1: 20, 2: 20}
    assert (b.round, b.rho, b.price) == (2, Fraction(3, 4), 30)
    assert b.payments == {2: 10, 3: 30}


def test_mes_hand_example_losers() -> None:
    outcome = mes(SMALL)
    c, d = outcome.unfunded["c"], outcome.unfunded["d"]
    assert (c.lapsed_in_round, c.drained_by, c.supporters_money) == (0, None, 30)
    assert "from the start" in c.reason
    assert (d.lapsed_in_round, d.drained_by, d.supporters_money) == (1, "a", 20)
    assert d.last_rho == Fraction(1, 2)
    assert "'a' was funded in round 1" in d.reason


def test_hand_example_other_rules() -> None:
    assert greedy(SMALL).winners == ["a", "b"]  # d (2 approvals) no longer fits
    # With cardinality utilities rho is the cap itself: d (12.5) beats a (20), then b (cap 20)
    # beats a (voters 0 and 1 have 17.5 left, so a's cap is 25), and a lapses (45 < 60).
    cardinality = mes_cardinality(SMALL)
    assert cardinality.winners == ["d", "b"]
    assert cardinality.funded["d"].rho == Fraction(25, 2)
    assert cardinality.funded["b"].payments == {2: 20, 3: 20}
    add1 = mes_add1(SMALL)
    assert add1.winners == ["a", "b"] and add1.mes_runs == 1  # 20 left < 25: exhaustive


def test_mes_add1_raises_the_share_until_exhaustive() -> None:
    # Share 50 each: only y is affordable, and x (60) would still fit in the 70 left.
    # At share 60 (after 10 raises) x ties y at rho 1 and wins the tie as "x" < "y".
    pair = Election(
        {}, 100, {"x": Project("x", 60), "y": Project("y", 30)}, [frozenset("x"), frozenset("y")]
    )
    outcome = mes_add1(pair)
    assert outcome.winners == ["x", "y"]
    assert outcome.share == 60 and outcome.mes_runs == 11
    assert outcome.funded["x"].payments == {0: 60}


def test_mes_add1_keeps_previous_outcome_when_a_run_overspends() -> None:
    # Nothing is affordable until the share reaches 60, and then both projects (120 > 100)
    # are bought: that run is infeasible, so the empty outcome before it stands.
    rivals = Election(
        {}, 100, {"a": Project("a", 60), "b": Project("b", 60)}, [frozenset("a"), frozenset("b")]
    )
    outcome = mes_add1(rivals)
    assert outcome.winners == [] and outcome.mes_runs == 11
    completed = mes_add1_greedy(rivals)
    assert completed.winners == ["a"] and completed.greedy_additions == ["a"]
    assert "could not fit it either" in completed.unfunded["b"].reason


def test_ties_are_broken_by_id_as_a_string() -> None:
    # Same cost, same support: "10" sorts before "9" as a string.
    tied = Election(
        {}, 100, {"9": Project("9", 100), "10": Project("10", 100)}, [frozenset({"9", "10"})]
    )
    for rule in RULES.values():
        assert rule(tied).winners == ["10"]


def test_unsupported_projects_only_enter_through_greedy() -> None:
    lonely = Election({}, 100, {"a": Project("a", 30), "z": Project("z", 10)}, [frozenset("a")])
    assert mes(lonely).winners == ["a"]
    assert mes(lonely).unfunded["z"].reason == "no voter approves it"
    assert mes_add1(lonely).winners == ["a"]  # z does not count for exhaustiveness
    assert greedy(lonely).winners == ["a", "z"]
    assert mes_add1_greedy(lonely).winners == ["a", "z"]
