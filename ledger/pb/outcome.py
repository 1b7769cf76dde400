"""What a PB rule returns: the winners, what they cost, and why each project won or lost.

Amounts in explanations are exact ``Fraction``s; the human-readable ``reason`` texts round
them to cents for display only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from ledger.pb.model import Money
from ledger.pb.pabulib import format_money


@dataclass(frozen=True)
class FundedExplanation:
    """How MES paid for a project.

    ``rho`` is the price per unit of utility (the quantity MES minimises), ``price`` the
    per-voter cap: every supporter paid ``min(their remaining money, price)``.
    ``payments`` maps the ballot index of every supporter to the amount they paid (0 if they
    had nothing left); the amounts sum exactly to the cost.
    """

    project_id: str
    round: int
    rho: Fraction
    price: Fraction
    payments: dict[int, Fraction]


@dataclass(frozen=True)
class UnfundedExplanation:
    """Why a project was not funded.

    For MES: ``supporters_money`` is what its supporters held when it became unaffordable
    (less than ``cost``), after ``drained_by`` was funded in round ``lapsed_in_round`` (0 and
    None: unaffordable from the start). ``last_rho`` is its rho the last time it was priced,
    which was never below the rho of the project funded instead. For greedy rules,
    ``remaining`` is the budget that was left when its turn came.
    """

    project_id: str
    cost: int
    supporters: int
    reason: str
    supporters_money: Fraction | None = None
    lapsed_in_round: int | None = None
    drained_by: str | None = None
    last_rho: Fraction | None = None
    remaining: Money | None = None


@dataclass(frozen=True)
class Outcome:
    """The result of a rule. ``winners`` are in selection order; ``spent`` <= ``budget``.

    ``share`` is each voter's initial money in the (final) MES run, ``mes_runs`` how many MES
    runs the rule needed (mes_add1 raises the share step by step: ``share`` is budget / voters
    plus ``share_raises`` times ``share_step``), and ``greedy_additions`` the winners a greedy
    pass added after MES.
    """

    rule: str
    winners: list[str]
    spent: int
    budget: Money
    funded: dict[str, FundedExplanation] = field(default_factory=dict)
    unfunded: dict[str, UnfundedExplanation] = field(default_factory=dict)
    greedy_additions: list[str] = field(default_factory=list)
    share: Fraction | None = None
    mes_runs: int = 0
    share_raises: int = 0
    share_step: Money = 1

    @property
    def leftover(self) -> Money:
        return self.budget - self.spent


def show(amount: Money) -> str:
    """An amount for humans: exact if it has at most 2 decimals, else rounded with a '~'."""
    rounded = round(Fraction(amount), 2)
    return format_money(rounded) if rounded == amount else "~" + format_money(rounded)
