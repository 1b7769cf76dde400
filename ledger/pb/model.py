"""The data of a participatory-budgeting (PB) election with approval ballots.

Money is exact: costs are whole currency units (``int``); the budget is an ``int`` too unless
the source wrote it with decimals (pabulib has e.g. ``770039.52``), in which case it is kept as
an exact ``Fraction``. Floats never appear, so every rule can compare amounts exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction

#: An exact amount of money: whole units, or an exact fraction of a unit.
Money = int | Fraction


def normalise_money(value: Money) -> Money:
    """Return whole amounts as ``int`` so equal budgets compare and print the same way."""
    if isinstance(value, Fraction) and value.denominator == 1:
        return int(value)
    return value


@dataclass(frozen=True)
class Project:
    """One proposal on the ballot.

    ``extra`` keeps any further pabulib columns (votes, category, selected, ...) as text so that
    an exported file says what the imported one said.
    """

    id: str
    cost: int
    name: str = ""
    extra: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        # Rules divide by the cost and compare it with budgets: a non-positive or non-integer
        # cost would make "affordable" meaningless.
        if not self.id:
            raise ValueError("project id must not be empty")
        if isinstance(self.cost, bool) or not isinstance(self.cost, int) or self.cost <= 0:
            raise ValueError(f"project {self.id!r}: cost must be a positive integer")


@dataclass(frozen=True)
class Election:
    """An approval PB election: a budget, the projects, and one approval set per voter.

    ``ballots[i]`` is the set of project ids voter ``i`` approves; explanations of outcomes
    refer to voters by this index. ``voter_ids``/``voter_extra`` (optional) keep the
    pabulib voter columns for a faithful export.
    """

    meta: dict[str, str]
    budget: Money
    projects: dict[str, Project]
    ballots: list[frozenset[str]]
    voter_ids: list[str] = field(default_factory=list)
    voter_extra: list[dict[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.budget <= 0:
            raise ValueError("budget must be positive")
        object.__setattr__(self, "budget", normalise_money(self.budget))
        for key, project in self.projects.items():
            if key != project.id:
                raise ValueError(f"project stored under {key!r} has id {project.id!r}")
        for index, ballot in enumerate(self.ballots):
            unknown = ballot - self.projects.keys()
            if unknown:
                raise ValueError(f"ballot {index} approves unknown projects {sorted(unknown)}")
        for name, column in (("voter_ids", self.voter_ids), ("voter_extra", self.voter_extra)):
            if column and len(column) != len(self.ballots):
                raise ValueError(f"{name} must have one entry per ballot")

    @property
    def num_voters(self) -> int:
        return len(self.ballots)

    def approvals(self) -> dict[str, int]:
        """Number of voters approving each project (zero for unsupported projects)."""
        counts = dict.fromkeys(self.projects, 0)
        for ballot in self.ballots:
            for project_id in ballot:
                counts[project_id] += 1
        return counts
