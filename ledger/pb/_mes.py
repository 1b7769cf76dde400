"""The Method of Equal Shares (MES) engine for approval ballots, in exact arithmetic.

Every voter starts with the same money (``share``). In each round, each still-affordable project
is priced: the smallest per-voter cap ``q`` such that its supporters, each paying
``min(own money, q)``, cover the cost exactly. Its *rho* is the price per unit of utility a
supporter pays: ``q / cost`` with cost utilities (a supporter gains ``cost``), ``q`` with
cardinality utilities (a supporter gains 1). The project with the smallest rho is funded (ties:
smallest project id as a string); supporters pay; repeat until nothing is affordable.

Why it is fast:

* Voters with the same ballot always hold the same money, so identical ballots are merged
  into weighted *groups*.
* Voters with the same money are interchangeable when pricing a project, so groups are
  mapped to money *classes*; each project keeps ``class -> number of supporters``, which is
  updated incrementally when a funded project moves its supporters to poorer classes. Pricing
  then sorts a handful of classes instead of thousands of voters.
* Money only decreases, so a project's rho never decreases: its last rho is a lower bound,
  and a round stops pricing once the next lower bound exceeds the best rho found (the
  pabutools optimisation; it does not change the outcome).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal

from ledger.pb.model import Election

Utility = Literal["cost", "cardinality"]


@dataclass(frozen=True)
class Prepared:
    """An election reshaped for MES; project index order is the tie-breaking order."""

    ids: tuple[str, ...]
    costs: tuple[int, ...]
    group_ballots: tuple[tuple[int, ...], ...]
    group_weights: tuple[int, ...]
    group_members: tuple[tuple[int, ...], ...]
    supporter_groups: tuple[tuple[int, ...], ...]
    support: tuple[int, ...]
    num_voters: int


def prepare(election: Election) -> Prepared:
    """Index projects by id (ascending string order) and merge identical ballots."""
    ids = tuple(sorted(election.projects))
    position = {project_id: index for index, project_id in enumerate(ids)}
    members: dict[frozenset[str], list[int]] = {}
    for voter, ballot in enumerate(election.ballots):
        members.setdefault(ballot, []).append(voter)
    group_ballots = tuple(tuple(sorted(position[p] for p in ballot)) for ballot in members)
    group_weights = tuple(len(voters) for voters in members.values())
    supporter_groups: list[list[int]] = [[] for _ in ids]
    support = [0] * len(ids)
    for group, ballot in enumerate(group_ballots):
        for project in ballot:
            supporter_groups[project].append(group)
            support[project] += group_weights[group]
    return Prepared(
        ids=ids,
        costs=tuple(election.projects[project_id].cost for project_id in ids),
        group_ballots=group_ballots,
        group_weights=group_weights,
        group_members=tuple(tuple(voters) for voters in members.values()),
        supporter_groups=tuple(tuple(groups) for groups in supporter_groups),
        support=tuple(support),
        num_voters=len(election.ballots),
    )


@dataclass(frozen=True)
class Selection:
    """One funded project: its rho, per-voter cap and what each supporting group paid."""

    project: int
    rho: Fraction
    price: Fraction
    group_payments: dict[int, Fraction]


@dataclass(frozen=True)
class Lapse:
    """When a project's supporters stopped being able to pay for it.

    ``round`` counts the projects funded before it lapsed (0: unaffordable from the start);
    ``after`` is the funded project whose payments drained its supporters (None at start).
    """

    round: int
    after: int | None
    money: Fraction


@dataclass
class Run:
    """The result of one MES run with a given initial share per voter."""

    share: Fraction
    selections: list[Selection] = field(default_factory=list)
    lapses: dict[int, Lapse] = field(default_factory=dict)
    # Per project, its rho the last time it was priced (exact for that round); for a losing
    # project that is at least the rho of the project funded in that round.
    last_rho: list[Fraction] = field(default_factory=list)
    spent: int = 0


class _State:
    """Mutable money bookkeeping of one run (see the module docstring)."""

    def __init__(self, prep: Prepared, share: Fraction) -> None:
        self.prep = prep
        self.class_money: list[Fraction] = [share]
        self.class_of_money: dict[Fraction, int] = {share: 0}
        self.group_class: list[int] = [0] * len(prep.group_weights)
        # counts[p]: money class -> number of p's supporters in it (only for live projects).
        self.counts: list[dict[int, int]] = [{0: s} if s else {} for s in prep.support]
        self.money: list[Fraction] = [share * s for s in prep.support]

    def class_for(self, money: Fraction) -> int:
        found = self.class_of_money.get(money)
        if found is None:
            found = self.class_of_money[money] = len(self.class_money)
            self.class_money.append(money)
        return found

    def price(self, project: int) -> Fraction:
        """Smallest cap q with sum over supporters of min(money, q) == cost."""
        cost = self.prep.costs[project]
        classes = sorted(self.counts[project].items(), key=lambda item: self.class_money[item[0]])
        remaining = self.prep.support[project]
        paid: Fraction | int = 0
        for money_class, weight in classes:
            money = self.class_money[money_class]
            # Everyone left can pay an equal cap q = (cost - paid) / remaining iff q <= money.
            if cost - paid <= money * remaining:
                return Fraction(cost - paid) / remaining
            paid += money * weight
            remaining -= weight
        raise AssertionError("priced a project its supporters cannot afford")

    def fund(
        self, project: int, price: Fraction, live: list[bool]
    ) -> tuple[dict[int, Fraction], set[int]]:
        """Charge the supporters of ``project``; return group payments and touched projects."""
        pay: dict[int, Fraction] = {}
        move: dict[int, int] = {}
        for money_class in self.counts[project]:
            money = self.class_money[money_class]
            pay[money_class] = min(money, price)
            move[money_class] = self.class_for(money - pay[money_class])
        group_payments: dict[int, Fraction] = {}
        moved: dict[int, dict[int, int]] = {}
        prep = self.prep
        for group in prep.supporter_groups[project]:
            old = self.group_class[group]
            group_payments[group] = pay[old]
            new = move[old]
            if new == old:
                continue  # nothing paid (no money left), nothing moves
            self.group_class[group] = new
            weight = prep.group_weights[group]
            for other in prep.group_ballots[group]:
                if other == project or not live[other]:
                    continue
                counts = self.counts[other]
                left = counts[old] - weight
                if left:
                    counts[old] = left
                else:
                    del counts[old]
                counts[new] = counts.get(new, 0) + weight
                per_class = moved.setdefault(other, {})
                per_class[old] = per_class.get(old, 0) + weight
        for other, per_class in moved.items():
            self.money[other] -= sum(pay[c] * weight for c, weight in per_class.items())
        return group_payments, set(moved)


def run_mes(prep: Prepared, share: Fraction, utility: Utility) -> Run:
    """One MES run in which every voter starts with ``share``."""
    state = _State(prep, share)
    run = Run(share)
    live = [False] * len(prep.ids)
    lower: list[Fraction] = [Fraction(0)] * len(prep.ids)
    for project, supporters in enumerate(prep.support):
        if not supporters:
            continue
        if state.money[project] < prep.costs[project]:
            run.lapses[project] = Lapse(0, None, state.money[project])
            continue
        live[project] = True
        # With equal money the cap is cost / supporters: the exact first-round rho.
        lower[project] = _rho(Fraction(prep.costs[project], supporters), prep.costs[project], utility)
    candidates = [p for p in range(len(prep.ids)) if live[p]]
    while candidates:
        project, rho, price = _cheapest(state, candidates, lower, utility)
        live[project] = False
        group_payments, touched = state.fund(project, price, live)
        run.selections.append(Selection(project, rho, price, group_payments))
        run.spent += prep.costs[project]
        for other in touched:
            if state.money[other] < prep.costs[other]:
                live[other] = False
                run.lapses[other] = Lapse(len(run.selections), project, state.money[other])
        candidates = [p for p in candidates if live[p]]
    run.last_rho = lower
    return run


def _rho(price: Fraction, cost: int, utility: Utility) -> Fraction:
    return price / cost if utility == "cost" else price


def _cheapest(
    state: _State, candidates: Sequence[int], lower: list[Fraction], utility: Utility
) -> tuple[int, Fraction, Fraction]:
    """The project with the smallest rho (ties: lowest index, i.e. smallest id)."""
    best: tuple[Fraction, int, Fraction] | None = None
    for project in sorted(candidates, key=lambda p: (lower[p], p)):
        if best is not None and lower[project] > best[0]:
            break  # rho only grows, so nothing later can beat (or tie) the best
        price = state.price(project)
        rho = lower[project] = _rho(price, state.prep.costs[project], utility)
        if best is None or (rho, project) < (best[0], best[1]):
            best = (rho, project, price)
    assert best is not None
    return best[1], best[0], best[2]
