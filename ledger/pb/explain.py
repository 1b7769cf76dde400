"""Explaining a PB result to members: per project, what happened and why, in plain words.

An :class:`Explanation` holds aggregate figures only: approvals, cost, whether a project won,
how its cost was split among its supporters (how many paid how much, never who), and for each
losing project why it could not be afforded. It is safe to publish for a secret ballot.

What each individual voter paid is available separately, from :func:`voter_payments` and
:func:`voter_accounts`, keyed by ballot index; the caller decides who may see that (a member
their own payments, nobody else's when the ballot is secret).

Figures are exact ``Fraction``s in the election's money (see :class:`MoneyFormat`); the
sentences round them to the currency's minor unit for reading: payments to the nearest penny,
money a project's supporters had left *down*, so that "had £119.99 left; it costs £120.00"
never reads as enough.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from typing import Any

from babel import Locale
from babel.numbers import get_territory_currencies

from ledger.errors import UnknownCurrency
from ledger.money import format_money, minor_digits, validate_currency
from ledger.pb.model import Election, Money
from ledger.pb.outcome import Outcome

_MES_RULES = ("mes", "mes_cardinality", "mes_add1", "mes_add1_greedy")


@dataclass(frozen=True)
class MoneyFormat:
    """How to write the election's amounts: ``amount * minor_per_unit`` is minor units.

    Rounds keep amounts in minor units (pence: ``minor_per_unit`` 1); pabulib files in whole
    currency units (``minor_per_unit`` 100 for a two-digit currency).
    """

    currency: str
    minor_per_unit: int = 1
    locale: str = "en_GB"

    def __post_init__(self) -> None:
        validate_currency(self.currency)
        if self.minor_per_unit <= 0:
            raise ValueError("minor_per_unit must be positive")

    @classmethod
    def minor_units(cls, currency: str) -> MoneyFormat:
        """Amounts are integer minor units of ``currency`` (as in the ledger and in rounds)."""
        return cls(currency, 1)

    @classmethod
    def whole_units(cls, currency: str) -> MoneyFormat:
        """Amounts are whole units of ``currency`` (as in pabulib files)."""
        return cls(currency, 10 ** minor_digits(currency))

    @property
    def currency_unit(self) -> Fraction:
        """One unit of the currency (£1) in the election's money: mes_add1's step."""
        return Fraction(10 ** minor_digits(self.currency), self.minor_per_unit)

    def minor(self, amount: Money | Fraction, *, down: bool = False) -> int:
        """``amount`` in minor units: to the nearest (halves up), or rounded down."""
        exact = Fraction(amount) * self.minor_per_unit
        return exact.__floor__() if down else (exact + Fraction(1, 2)).__floor__()

    def text(self, amount: Money | Fraction, *, down: bool = False) -> str:
        return format_money(self.minor(amount, down=down), self.currency, self.locale)


def pabulib_currency(election: Election) -> str | None:
    """The currency of a pabulib election: its ``currency`` META, else its country's.

    Pabulib files seldom name the currency, but they name the country ("Poland").
    """
    named = election.meta.get("currency", "").strip().upper()
    if named:
        try:
            return validate_currency(named)
        except UnknownCurrency:
            return None
    country = election.meta.get("country", "").strip().lower()
    territories = {name.lower(): code for code, name in Locale("en").territories.items()}
    code = territories.get(country)
    currencies = get_territory_currencies(code) if code else []
    return str(currencies[0]) if currencies else None


class Funding(StrEnum):
    """How a winning project was paid for."""

    EQUAL_SHARES = "equal_shares"  # by its supporters, out of their equal shares (MES)
    GREEDY = "greedy"  # from the budget, in order of approvals
    TOP_UP = "top_up"  # from what equal shares left unspent, in order of approvals


@dataclass(frozen=True)
class PaymentGroup:
    """``voters`` supporters each paid exactly ``amount``.

    ``all_they_had``: they paid less than the others because it was all they had left.
    """

    voters: int
    amount: Fraction
    all_they_had: bool


@dataclass(frozen=True)
class ProjectExplanation:
    """One project's result, in aggregate figures and in words (``reason``).

    ``order`` is the winner's place in the order of selection (1 = chosen first).
    ``paid_by_supporters`` is what its supporters paid in total (its cost, under MES) and
    ``payments`` how that was split. For a loser under MES, ``supporters_money`` is what its
    supporters held between them when it became unaffordable, after ``after`` was funded
    (None: from the start). ``budget_left`` is what was left of the budget when its turn
    came in a greedy pass (before it was funded, for a winner).
    """

    project_id: str
    name: str
    cost: int
    approvals: int
    won: bool
    funded_by: Funding | None
    order: int | None
    paid_by_supporters: Fraction
    payments: tuple[PaymentGroup, ...]
    supporters_money: Fraction | None
    after: str | None
    budget_left: Money | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "project_id": self.project_id,
            "name": self.name,
            "cost": self.cost,
            "approvals": self.approvals,
            "won": self.won,
            "funded_by": None if self.funded_by is None else str(self.funded_by),
            "order": self.order,
            "paid_by_supporters": _exact(self.paid_by_supporters),
            "payments": [
                {"voters": g.voters, "each": _exact(g.amount), "all_they_had": g.all_they_had}
                for g in self.payments
            ],
            "supporters_money": _exact(self.supporters_money),
            "after": self.after,
            "budget_left": _exact(self.budget_left),
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Explanation:
    """A whole result explained, without any voter's identity or ballot.

    ``share`` is each voter's money under the MES rules (for mes_add1 the share of the run
    that was returned: budget / voters raised ``share_raises`` times by one currency unit).
    ``projects`` lists the winners in order of selection, then the others by approvals.
    """

    rule: str
    currency: str
    budget: Money
    spent: int
    voters: int
    share: Fraction | None
    share_raises: int
    projects: tuple[ProjectExplanation, ...]
    summary: str

    @property
    def leftover(self) -> Money:
        return self.budget - self.spent

    def project(self, project_id: str) -> ProjectExplanation:
        for project in self.projects:
            if project.project_id == project_id:
                return project
        raise KeyError(project_id)

    def lines(self) -> list[str]:
        """The explanation as text, one paragraph per line."""
        return [self.summary] + [
            f"{p.project_id}{' ' + p.name if p.name else ''}: {p.reason}" for p in self.projects
        ]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready; exact amounts as strings ("25/6" when not a whole number)."""
        return {
            "rule": self.rule,
            "currency": self.currency,
            "budget": _exact(self.budget),
            "spent": self.spent,
            "voters": self.voters,
            "share": _exact(self.share),
            "share_raises": self.share_raises,
            "summary": self.summary,
            "projects": [project.as_dict() for project in self.projects],
        }


def explain(election: Election, outcome: Outcome, money: MoneyFormat) -> Explanation:
    """Explain ``outcome`` (the result of ``outcome.rule`` on ``election``) in aggregate."""
    writer = _Writer(election, outcome, money)
    winners = [
        writer.winner(project_id, order) for order, project_id in enumerate(outcome.winners, 1)
    ]
    approvals = election.approvals()
    losers = sorted(outcome.unfunded, key=lambda p: (-approvals[p], p))
    return Explanation(
        rule=outcome.rule,
        currency=money.currency,
        budget=outcome.budget,
        spent=outcome.spent,
        voters=election.num_voters,
        share=outcome.share,
        share_raises=outcome.share_raises,
        projects=tuple(winners + [writer.loser(project_id) for project_id in losers]),
        summary=writer.summary(),
    )


def voter_payments(outcome: Outcome) -> dict[int, dict[str, Fraction]]:
    """What each voter (by ballot index) paid towards each project; only voters who paid."""
    paid: dict[int, dict[str, Fraction]] = {}
    for project_id, funded in outcome.funded.items():
        for voter, amount in funded.payments.items():
            if amount:
                paid.setdefault(voter, {})[project_id] = amount
    return paid


def project_totals(outcome: Outcome) -> dict[str, Fraction]:
    """What the supporters of each MES winner paid in total (exactly its cost)."""
    return {p: sum(f.payments.values(), Fraction(0)) for p, f in outcome.funded.items()}


@dataclass(frozen=True)
class VoterAccount:
    """One voter's money under MES: their share, what they paid towards what, what was left."""

    share: Fraction
    paid: dict[str, Fraction]

    @property
    def left(self) -> Fraction:
        return self.share - sum(self.paid.values(), Fraction(0))


def voter_accounts(outcome: Outcome, num_voters: int) -> list[VoterAccount]:
    """Every voter's account, by ballot index (MES rules only)."""
    if outcome.share is None:
        raise ValueError(f"rule {outcome.rule!r} gives voters no share to account for")
    paid = voter_payments(outcome)
    return [VoterAccount(outcome.share, paid.get(voter, {})) for voter in range(num_voters)]


def _exact(amount: Money | Fraction | None) -> str | None:
    return None if amount is None else str(Fraction(amount))


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


class _Writer:
    """Builds the per-project explanations of one outcome."""

    def __init__(self, election: Election, outcome: Outcome, money: MoneyFormat) -> None:
        self.election, self.outcome, self.money = election, outcome, money
        self.approvals = election.approvals()
        self.is_mes = outcome.rule in _MES_RULES
        # Budget left when each project's turn came in the greedy pass (greedy rule or top-up).
        self.greedy_left: dict[str, Money] = {}
        if not self.is_mes or outcome.rule == "mes_add1_greedy":
            self._replay_greedy()

    def _replay_greedy(self) -> None:
        taken = set(self.outcome.funded)
        left: Money = self.outcome.budget - sum(
            self.election.projects[p].cost for p in self.outcome.funded
        )
        order = sorted(
            (p for p in self.election.projects if p not in taken),
            key=lambda p: (-self.approvals[p], p),
        )
        for project_id in order:
            self.greedy_left[project_id] = left
            cost = self.election.projects[project_id].cost
            if cost <= left:
                left -= cost

    def m(self, amount: Money | Fraction, *, down: bool = False) -> str:
        return self.money.text(amount, down=down)

    def summary(self) -> str:
        outcome, election = self.outcome, self.election
        funded = (
            f"{len(outcome.winners)} of {len(election.projects)} projects funded, "
            f"{self.m(outcome.spent)} of the {self.m(outcome.budget)} budget spent, "
            f"{self.m(outcome.leftover)} left unspent."
        )
        if not self.is_mes:
            return (
                f"Greedy by approvals: projects were taken from the most approved down, and "
                f"each was funded if it still fitted in what was left of the budget. {funded}"
            )
        voters = election.num_voters
        if voters == 0 or outcome.share is None:
            return f"Method of Equal Shares: nobody voted. {funded}"
        text = (
            f"Method of Equal Shares: the {self.m(outcome.budget)} budget was split equally "
            f"between the {_count(voters, 'voter', 'voters')}"
        )
        base = Fraction(outcome.budget) / voters
        if outcome.rule in ("mes_add1", "mes_add1_greedy"):
            text += f", {self.m(base)} each"
            if outcome.share_raises:
                text += (
                    f"; to use more of the budget, every share was raised by "
                    f"{self.m(outcome.share_step)} {_count(outcome.share_raises, 'time', 'times')}"
                    f", to {self.m(outcome.share)} each, as far as it could go with the projects "
                    f"chosen still costing no more than the budget"
                )
        else:
            text += f", {self.m(outcome.share)} each"
        text += (
            ". Projects were then chosen one at a time, each paid for by its own supporters out "
            "of their shares, always the one that cost its supporters least"
        )
        if outcome.rule == "mes_cardinality":
            text += " (the smallest most that any supporter had to pay)"
        else:
            text += f" for each {self.m(self.money.currency_unit)} of its cost"
        text += f", until no project's supporters could afford it. {funded}"
        if outcome.greedy_additions:
            text += (
                f" Then what was left was spent on the most approved projects that still "
                f"fitted ({_count(len(outcome.greedy_additions), 'project', 'projects')})."
            )
        return text

    def _project(self, project_id: str, won: bool, **fields: Any) -> ProjectExplanation:
        project = self.election.projects[project_id]
        values: dict[str, Any] = {
            "funded_by": None,
            "order": None,
            "paid_by_supporters": Fraction(0),
            "payments": (),
            "supporters_money": None,
            "after": None,
            "budget_left": None,
        }
        values.update(fields)
        return ProjectExplanation(
            project_id=project_id,
            name=project.name,
            cost=project.cost,
            approvals=self.approvals[project_id],
            won=won,
            **values,
        )

    def winner(self, project_id: str, order: int) -> ProjectExplanation:
        funded = self.outcome.funded.get(project_id)
        cost = self.election.projects[project_id].cost
        if funded is None:  # greedy rule, or the greedy top-up after MES
            left = self.greedy_left[project_id]
            how = Funding.TOP_UP if self.is_mes else Funding.GREEDY
            where = " in the top-up after equal shares" if self.is_mes else ""
            approvals = _count(self.approvals[project_id], "approval", "approvals")
            reason = (
                f"Funded{where}: with {approvals} its turn came when {self.m(left)} of the "
                f"budget was left, and it costs {self.m(cost)}."
            )
            return self._project(
                project_id, True, funded_by=how, order=order, budget_left=left, reason=reason
            )
        groups = _payment_groups(funded.payments, funded.price)
        supporters = _count(len(funded.payments), "supporter", "supporters")
        parts: list[str] = []
        for group in groups:
            if group.amount == 0:
                parts.append(f"{group.voters} had nothing left")
            elif group.all_they_had:
                each = " each" if group.voters > 1 else ""
                parts.append(f"{group.voters} paid all they had left, {self.m(group.amount)}{each}")
            elif len(groups) == 1:
                parts.append(f"each paid {self.m(group.amount)}")
            else:
                each = " each" if group.voters > 1 else ""
                parts.append(f"{group.voters} paid {self.m(group.amount)}{each}")
        if len(groups) == 1 and not groups[0].all_they_had:
            split = f"its {supporters} {parts[0]}"
            if len(funded.payments) == 1:
                split = f"its one supporter paid {self.m(groups[0].amount)}"
        else:
            split = f"its {supporters} shared it: {_join(parts)}"
        reason = f"Funded (chosen {_ordinal(funded.round)}); it costs {self.m(cost)} and {split}."
        return self._project(
            project_id,
            True,
            funded_by=Funding.EQUAL_SHARES,
            order=order,
            paid_by_supporters=sum(funded.payments.values(), Fraction(0)),
            payments=tuple(groups),
            reason=reason,
        )

    def loser(self, project_id: str) -> ProjectExplanation:
        why = self.outcome.unfunded[project_id]
        cost = self.m(why.cost)
        greedy_left = self.greedy_left.get(project_id)
        if not self.is_mes:
            assert greedy_left is not None
            reason = (
                f"Not funded: it did not fit: {self.m(greedy_left)} of the budget was left "
                f"when its turn came and it costs {cost}."
            )
            return self._project(project_id, False, budget_left=greedy_left, reason=reason)
        one = why.supporters == 1
        who = "its one supporter" if one else f"its {why.supporters} supporters"
        between = "" if one else " between them"
        if why.supporters == 0:
            reason = "Not funded: nobody voted for it."
        elif why.drained_by is None:
            assert why.supporters_money is not None
            reason = (
                f"Not funded: {who} had only {self.m(why.supporters_money, down=True)}"
                f"{between}, even before anything was chosen, and it costs {cost}."
            )
        else:
            assert why.supporters_money is not None and self.outcome.share is not None
            start = self.outcome.share * why.supporters
            drained = self.election.projects[why.drained_by]
            label = f'"{drained.name}" ({drained.id})' if drained.name else drained.id
            reason = (
                f"Not funded: {who} started with {self.m(start, down=True)}{between}. "
                f"{'It' if one else 'They'} also supported projects chosen before it (the last "
                f"was {label}), and after paying {'its' if one else 'their'} part of those "
                f"{'it' if one else 'they'} had only {self.m(why.supporters_money, down=True)} "
                f"left{between}; it costs {cost}."
            )
        if greedy_left is not None:
            reason += (
                f" The top-up could not fit it either: {self.m(greedy_left)} of the budget was "
                f"left when its turn came."
            )
        return self._project(
            project_id,
            False,
            supporters_money=why.supporters_money,
            after=why.drained_by,
            budget_left=greedy_left,
            reason=reason,
        )


def _payment_groups(payments: dict[int, Fraction], price: Fraction) -> list[PaymentGroup]:
    """How many supporters paid each amount, the full price first, then the rest, largest first.

    Everyone pays ``min(what they had left, price)``, so anyone paying less than the price paid
    all they had.
    """
    counts = Counter(payments.values())
    return [
        PaymentGroup(counts[amount], amount, amount < price)
        for amount in sorted(counts, key=lambda a: (a != price, -a))
    ]


def _ordinal(n: int) -> str:
    words = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth")
    if n <= len(words):
        return words[n - 1]
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
