"""The Method of Equal Shares (MES) engine for approval ballots, in exact arithmetic.

Every voter starts with the same money (``share``). In each round, each still-affordable project
is priced: the smallest per-voter cap ``q`` such that its supporters, each paying
``min(own money, q)``, cover the cost exactly. Its *rho* is the price per unit of utility a
supporter pays: ``q / cost`` with cost utilities (a supporter gains ``cost``), ``q`` with
cardinality utilities (a supporter gains 1). The project with the smallest rho is funded (ties:
smallest project id as a string); its supporters pay; repeat until nothing is affordable.

Why it is fast (mes_add1 runs this hundreds of times):

* Voters holding the same money are interchangeable, so voters are kept in money *classes*,
  each a bitset (a Python int, bit i = voter i), and the classes are kept sorted by money.
  A project's supporters in a class are ``popcount(supporters & class)``, computed in C, so
  pricing walks a few hundred classes instead of thousands of voters and never sorts.
* Money only decreases, so a project's rho never decreases: its last rho is a lower bound,
  and a round stops pricing once the next lower bound exceeds the best rho found (as
  pabutools does; the outcome is unchanged). A project whose supporters can no longer pay is
  dropped when next priced.
* Money is held as integers over a common, growing denominator (see ``_Classes``), so the
  hot loop does integer arithmetic rather than Fraction arithmetic.
* mes_add1 only needs to know whether a run ends exhaustive, so its search runs stop as
  soon as the answer is known to be "no" (see ``_EarlyStop``).
* Tracking *when* each losing project became unaffordable costs extra work each round, so
  it is only done when an explanation is wanted (``explain=True``).

All money is exact (integers and ``Fraction``s): comparisons decide the outcome.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal

from ledger.pb.model import Election, Money

Utility = Literal["cost", "cardinality"]


@dataclass(frozen=True)
class Prepared:
    """An election reshaped for MES; project index order is the tie-breaking order."""

    ids: tuple[str, ...]
    costs: tuple[int, ...]
    supporters: tuple[int, ...]  # per project, a bitset of the voters approving it
    support: tuple[int, ...]  # per project, the number of supporters
    num_voters: int


def prepare(election: Election) -> Prepared:
    """Index projects by id in ascending string order and build their supporter bitsets."""
    ids = tuple(sorted(election.projects))
    position = {project_id: index for index, project_id in enumerate(ids)}
    bitmaps = [bytearray((len(election.ballots) + 7) // 8) for _ in ids]
    for voter, ballot in enumerate(election.ballots):
        byte, bit = divmod(voter, 8)
        for project_id in ballot:
            bitmaps[position[project_id]][byte] |= 1 << bit
    supporters = tuple(int.from_bytes(bitmap, "little") for bitmap in bitmaps)
    return Prepared(
        ids=ids,
        costs=tuple(election.projects[project_id].cost for project_id in ids),
        supporters=supporters,
        support=tuple(mask.bit_count() for mask in supporters),
        num_voters=len(election.ballots),
    )


def voters_in(mask: int) -> Iterator[int]:
    """The voter indices whose bits are set, ascending."""
    bits = bin(mask)[:1:-1]  # least significant bit first
    return (index for index, bit in enumerate(bits) if bit == "1")


@dataclass(frozen=True)
class Selection:
    """One funded project: its rho, per-voter cap, and who paid what.

    ``payments`` holds (voters bitset, amount x ``scale``) pairs: amounts stay integers in the
    run's money unit (1 / ``scale``) and become Fractions only when explained.
    """

    project: int
    rho: Fraction
    price: Fraction
    payments: tuple[tuple[int, int], ...]
    scale: int

    def amounts(self) -> Iterator[tuple[int, Fraction]]:
        """(voters bitset, exact amount each of them paid)."""
        return ((voters, Fraction(amount, self.scale)) for voters, amount in self.payments)


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
    lapses: dict[int, Lapse] = field(default_factory=dict)  # only filled with explain=True
    # Per project, its rho the last time it was priced (exact for that round); for a losing
    # project that is never below the rho of the project funded in that round.
    last_rho: list[Fraction] = field(default_factory=list)
    spent: int = 0
    cut_short: bool = False  # stopped early: provably non-exhaustive (see run_mes)


class _Classes:
    """Voters partitioned by the money they hold, in ascending order of money.

    ``moneys[i]`` (distinct, ascending) is the money of every voter in bitset ``members[i]``.
    Money is held as integers in a unit of 1 / ``scale``: Python's integer arithmetic is
    exact and much faster than Fraction's. When a price needs a finer unit, every amount is
    rescaled, which keeps the order.
    """

    def __init__(self, num_voters: int, share: Fraction) -> None:
        self.scale = share.denominator
        self.moneys: list[int] = [share.numerator]
        self.members: list[int] = [(1 << num_voters) - 1]

    def price(self, cost: int, mask: int, count: int) -> Fraction | None:
        """Smallest cap q with sum of min(money, q) over ``mask`` == cost (None: unaffordable).

        Walking classes from the poorest: once everyone left can pay an equal share of what
        is still missing, that share is the cap; poorer voters pay all they have.
        """
        missing = cost * self.scale
        for money, members in zip(self.moneys, self.members, strict=True):
            here = (mask & members).bit_count()
            if here:
                if missing <= money * count:
                    return Fraction(missing, count * self.scale)
                missing -= money * here
                count -= here
        return None

    def charge(self, mask: int, price: Fraction) -> list[tuple[int, int]]:
        """Everyone in ``mask`` pays min(money, price); returns (voters, amount) pairs."""
        self._rescale_for(price)
        cap = price.numerator * self.scale // price.denominator
        regrouped: dict[int, int] = {}
        moves: list[tuple[int, int]] = []
        for money, members in zip(self.moneys, self.members, strict=True):
            part = members & mask
            if not part:
                regrouped[money] = regrouped.get(money, 0) | members
                continue
            amount = min(money, cap)
            moves.append((part, amount))
            if part != members:
                regrouped[money] = regrouped.get(money, 0) | (members ^ part)
            regrouped[money - amount] = regrouped.get(money - amount, 0) | part
        self.moneys = sorted(regrouped)
        self.members = [regrouped[money] for money in self.moneys]
        return moves

    def _rescale_for(self, price: Fraction) -> None:
        """Make ``price`` a whole number of money units."""
        factor = (price * self.scale).denominator
        if factor != 1:
            self.scale *= factor
            self.moneys = [money * factor for money in self.moneys]


@dataclass
class _EarlyStop:
    """mes_add1's shortcut: only candidates can still be bought, so once the cheapest dropped
    project would fit even if every candidate were bought, the run ends non-exhaustive."""

    budget: Money | None
    candidates_cost: int
    cheapest_dropped: int | None

    def drop(self, cost: int) -> None:
        """A candidate turned out unaffordable: it can no longer be bought."""
        self.candidates_cost -= cost
        if self.cheapest_dropped is None or cost < self.cheapest_dropped:
            self.cheapest_dropped = cost

    def verdict(self, spent: int) -> bool | None:
        """None: carry on; otherwise stop, with True meaning provably non-exhaustive."""
        if self.budget is None:
            return None
        if spent > self.budget:
            return False  # overspent: the caller sees spent > budget
        if self.cheapest_dropped is None:
            return None
        fits_anyway = spent + self.candidates_cost + self.cheapest_dropped <= self.budget
        return True if fits_anyway else None


def run_mes(
    prep: Prepared,
    share: Fraction,
    utility: Utility,
    explain: bool = False,
    budget: Money | None = None,
) -> Run:
    """One MES run in which every voter starts with ``share``.

    With ``budget`` (mes_add1's search), the run stops as soon as its outcome is known to be
    of no use there: once it has overspent (``spent > budget``), or once it will provably end
    non-exhaustive (``cut_short``, see :class:`_EarlyStop`).
    """
    classes = _Classes(prep.num_voters, share)
    run = Run(share, last_rho=[Fraction(0)] * len(prep.ids))
    money = [share * count for count in prep.support]  # supporters' total, for explanations
    candidates = _first_round(prep, run, money, utility)
    stop = _EarlyStop(
        budget,
        candidates_cost=sum(prep.costs[project] for project in candidates),
        cheapest_dropped=min((prep.costs[project] for project in run.lapses), default=None),
    )
    while candidates:
        verdict = stop.verdict(run.spent)
        if verdict is not None:
            run.cut_short = verdict
            return run
        best, lost = _cheapest(prep, classes, candidates, run.last_rho, utility)
        for project in lost:
            stop.drop(prep.costs[project])
        if best is None:
            break
        project, rho, price = best
        moves = classes.charge(prep.supporters[project], price)
        run.selections.append(Selection(project, rho, price, tuple(moves), classes.scale))
        run.spent += prep.costs[project]
        stop.candidates_cost -= prep.costs[project]
        candidates.remove(project)
        if explain:
            _track_lapses(prep, run, candidates, money)
    return run


def _first_round(prep: Prepared, run: Run, money: list[Fraction], utility: Utility) -> list[int]:
    """The initially affordable projects (with their exact first rho); record the others."""
    candidates = []
    for project, count in enumerate(prep.support):
        if not count:
            continue  # nobody approves it: MES never considers it
        if money[project] < prep.costs[project]:
            run.lapses[project] = Lapse(0, None, money[project])
            continue
        candidates.append(project)
        # With equal money the cap is cost / supporters: this is the exact first-round rho.
        run.last_rho[project] = _rho(
            Fraction(prep.costs[project], count), prep.costs[project], utility
        )
    return candidates


def _rho(price: Fraction, cost: int, utility: Utility) -> Fraction:
    return price / cost if utility == "cost" else price


def _sort_key(rho: Fraction) -> tuple[int, Fraction]:
    """Orders exactly like ``rho`` but mostly compares small integers (floor is monotone)."""
    return (rho.numerator << 64) // rho.denominator, rho


def _cheapest(
    prep: Prepared,
    classes: _Classes,
    candidates: list[int],
    lower: list[Fraction],
    utility: Utility,
) -> tuple[tuple[int, Fraction, Fraction] | None, list[int]]:
    """The affordable project with the smallest rho (ties: lowest index, i.e. smallest id).

    Candidates found unaffordable on the way are removed from ``candidates`` and returned.
    """
    best: tuple[Fraction, int, Fraction] | None = None
    lost: list[int] = []
    for project in sorted(candidates, key=lambda p: (_sort_key(lower[p]), p)):
        if best is not None and lower[project] > best[0]:
            break  # rho only grows, so nothing later can beat (or tie) the best
        cost = prep.costs[project]
        price = classes.price(cost, prep.supporters[project], prep.support[project])
        if price is None:
            candidates.remove(project)
            lost.append(project)
            continue
        rho = lower[project] = _rho(price, cost, utility)
        if best is None or (rho, project) < (best[0], best[1]):
            best = (rho, project, price)
    return (None if best is None else (best[1], best[0], best[2])), lost


def _track_lapses(
    prep: Prepared, run: Run, candidates: Sequence[int], money: list[Fraction]
) -> None:
    """Update the supporters' money of every candidate and record those that lapsed."""
    selection = run.selections[-1]
    by_amount: dict[int, int] = {}  # everyone paying the full cap shares one bitset
    for voters, amount in selection.payments:
        if amount:
            by_amount[amount] = by_amount.get(amount, 0) | voters
    for project in candidates:
        mask = prep.supporters[project]
        paid = sum(amount * (mask & voters).bit_count() for amount, voters in by_amount.items())
        money[project] -= Fraction(paid, selection.scale)
        if money[project] < prep.costs[project] and project not in run.lapses:
            run.lapses[project] = Lapse(len(run.selections), selection.project, money[project])
