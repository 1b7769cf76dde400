"""A participatory-budgeting round, without the database: its calendar, its ballots, its result.

The rounds service stores rounds, projects and ballots; everything it decides with them lives
here, as pure functions over plain values:

* :class:`RoundSchedule` and :func:`phase_at`: which phase a round is in at a given moment;
* :class:`BallotLimits` and :func:`check_ballot`: whether one member's approval ballot is valid;
* :func:`count_round`: stored ballots + eligible projects + budget -> winners and explanation;
* :meth:`RoundResult.to_pb`: the finished round as a pabulib ``.pb`` file.

Money is integer minor units of the round's currency throughout (pence for GBP), as in the
ledger; ``mes_add1`` raises each voter's share by one whole currency unit (£1) at a time.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from enum import StrEnum
from fractions import Fraction
from typing import Generic, TypeVar

from ledger.errors import InvalidInput
from ledger.money import minor_digits, validate_currency
from ledger.pb.explain import Explanation, MoneyFormat, ProjectExplanation, explain
from ledger.pb.model import Election, Project
from ledger.pb.outcome import Outcome
from ledger.pb.pabulib import dump_pb, format_money
from ledger.pb.rules import RULES, mes_add1, mes_add1_greedy

#: Whatever the service identifies a voter by (a member id); never written anywhere.
Voter = TypeVar("Voter", bound=Hashable)


class InvalidSchedule(InvalidInput):
    """Dates that cannot describe a round: naive, or phases out of order."""

    title = "Invalid round schedule"


class InvalidBallot(InvalidInput):
    """An approval ballot the round's rules refuse; nothing is recorded."""

    title = "Invalid ballot"


class UnknownProject(InvalidBallot):
    title = "Unknown project"


class IneligibleProject(InvalidBallot):
    title = "Project not eligible"


class TooFewProjects(InvalidBallot):
    title = "Too few projects on the ballot"


class TooManyProjects(InvalidBallot):
    title = "Too many projects on the ballot"


class BallotOverCost(InvalidBallot):
    title = "Ballot over its cost limit"


class InvalidRound(InvalidInput):
    """A round that cannot be counted: no budget, unknown rule, ballots naming other projects."""

    title = "Invalid round"


class Phase(StrEnum):
    """Where a round is; each phase lasts from its date in the schedule to the next one's."""

    SCHEDULED = "scheduled"  # before proposals open
    PROPOSALS = "proposals"  # members propose projects
    REVIEW = "review"  # stewards mark each project eligible or not
    VOTING = "voting"  # members cast (and change) their approval ballots
    RESULTS = "results"  # the outcome is known; money not yet moved
    FUNDED = "funded"  # winners funded, unspent budget returned


@dataclass(frozen=True)
class RoundSchedule:
    """When each phase starts. Times must be timezone-aware; they are kept in UTC.

    Each phase runs from its start up to (not including) the next phase's start, so the
    dates must be strictly increasing: every phase lasts a while.
    """

    proposals_open: datetime
    review_starts: datetime
    voting_starts: datetime
    results_at: datetime
    funded_at: datetime

    def __post_init__(self) -> None:
        previous: tuple[str, datetime] | None = None
        for item in fields(self):
            moment = getattr(self, item.name)
            if not isinstance(moment, datetime):
                raise InvalidSchedule(f"{item.name} must be a date and time, got {moment!r}")
            if moment.tzinfo is None or moment.utcoffset() is None:
                raise InvalidSchedule(f"{item.name} must say its timezone (e.g. UTC)")
            moment = moment.astimezone(UTC)
            object.__setattr__(self, item.name, moment)
            if previous is not None and moment <= previous[1]:
                raise InvalidSchedule(
                    f"{item.name} ({moment.isoformat()}) must come after "
                    f"{previous[0]} ({previous[1].isoformat()})"
                )
            previous = (item.name, moment)

    def starts(self) -> list[tuple[Phase, datetime]]:
        """Each phase after SCHEDULED with the moment it starts, in order."""
        return [
            (Phase.PROPOSALS, self.proposals_open),
            (Phase.REVIEW, self.review_starts),
            (Phase.VOTING, self.voting_starts),
            (Phase.RESULTS, self.results_at),
            (Phase.FUNDED, self.funded_at),
        ]


def phase_at(schedule: RoundSchedule, now: datetime) -> Phase:
    """The phase ``schedule`` is in at ``now`` (timezone-aware)."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise InvalidSchedule("the moment asked about must say its timezone (e.g. UTC)")
    current = Phase.SCHEDULED
    for phase, start in schedule.starts():
        if now >= start:
            current = phase
    return current


@dataclass(frozen=True)
class RoundProject:
    """A project on a round's ballot: ``cost`` in minor units; ineligible ones cannot be voted."""

    id: str
    cost: int
    name: str = ""
    eligible: bool = True


@dataclass(frozen=True)
class BallotLimits:
    """What one ballot may hold: at least ``min_projects``, at most ``max_projects`` projects
    and ``max_cost`` in total (minor units). None: no limit. An empty ballot is never valid:
    a member who wants to approve nothing withdraws their ballot instead."""

    min_projects: int = 1
    max_projects: int | None = None
    max_cost: int | None = None

    def __post_init__(self) -> None:
        for name in ("min_projects", "max_projects", "max_cost"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise InvalidInput(f"ballot limit {name} must be a whole number, got {value!r}")
        if self.min_projects < 1:
            raise InvalidInput("ballot limit min_projects must be at least 1")
        if self.max_projects is not None and self.max_projects < self.min_projects:
            raise InvalidInput(
                f"ballot limit max_projects ({self.max_projects}) is below "
                f"min_projects ({self.min_projects})"
            )
        if self.max_cost is not None and self.max_cost <= 0:
            raise InvalidInput("ballot limit max_cost must be positive")


def check_ballot(
    approved_project_ids: Iterable[str],
    projects: Iterable[RoundProject],
    limits: BallotLimits,
    currency: str | None = None,
) -> frozenset[str]:
    """The ballot as a set of project ids, or an :class:`InvalidBallot` saying what is wrong.

    ``currency`` (optional) only makes the cost-limit message show money ("£150.00").
    """
    by_id = {project.id: project for project in projects}
    approved: list[str] = list(approved_project_ids)
    seen: set[str] = set()
    for project_id in approved:
        if project_id in seen:
            raise InvalidBallot(f"project {project_id!r} is on the ballot twice")
        seen.add(project_id)
        project = by_id.get(project_id)
        if project is None:
            raise UnknownProject(f"project {project_id!r} is not part of this round")
        if not project.eligible:
            raise IneligibleProject(
                f"project {project_id!r} was not found eligible in review and cannot be voted for"
            )
    count = len(approved)
    if count < limits.min_projects:
        raise TooFewProjects(
            f"a ballot must approve at least {_projects(limits.min_projects)} "
            f"(the round's minimum); this one approves {count}"
        )
    if limits.max_projects is not None and count > limits.max_projects:
        raise TooManyProjects(
            f"a ballot may approve at most {_projects(limits.max_projects)} "
            f"(the round's maximum); this one approves {count}"
        )
    total = sum(by_id[project_id].cost for project_id in approved)
    if limits.max_cost is not None and total > limits.max_cost:
        money = (lambda amount: MoneyFormat.minor_units(currency).text(amount)) if currency else str
        raise BallotOverCost(
            f"the projects on a ballot may cost at most {money(limits.max_cost)} together "
            f"(the round's maximum cost per ballot); these cost {money(total)}"
        )
    return frozenset(approved)


def _projects(n: int) -> str:
    return f"{n} project" if n == 1 else f"{n} projects"


@dataclass(frozen=True)
class RoundResult(Generic[Voter]):
    """A counted round. ``election`` holds the ballots anonymously, in a canonical order that
    says nothing about who cast them; :meth:`payments_of` maps a voter back, for that voter.
    """

    election: Election
    outcome: Outcome
    money: MoneyFormat
    _voters: Mapping[Voter, int] = field(repr=False, compare=False)
    #: Eligible projects no ballot approved: never funded, and not part of ``election``.
    unvoted: tuple[Project, ...] = ()

    @property
    def winners(self) -> list[str]:
        return self.outcome.winners

    @property
    def spent(self) -> int:
        return self.outcome.spent

    @property
    def unspent(self) -> int:
        return int(self.outcome.leftover)

    def explanation(self) -> Explanation:
        """Aggregate figures and reasons: publishable even when the ballot is secret."""
        explained = explain(self.election, self.outcome, self.money)
        if not self.unvoted:
            return explained
        nobody = tuple(
            ProjectExplanation(
                project_id=project.id,
                name=project.name,
                cost=int(project.cost),
                approvals=0,
                won=False,
                funded_by=None,
                order=None,
                paid_by_supporters=Fraction(0),
                payments=(),
                supporters_money=None,
                after=None,
                budget_left=None,
                reason="Not funded: nobody voted for it.",
            )
            for project in self.unvoted
        )
        return replace(explained, projects=explained.projects + nobody)

    def payments_of(self, voter: Voter) -> dict[str, Fraction]:
        """What ``voter`` paid towards each project (MES rules), exact, in minor units."""
        index = self._voters[voter]
        return {
            project_id: funded.payments[index]
            for project_id, funded in self.outcome.funded.items()
            if funded.payments.get(index)
        }

    def to_pb(self) -> str:
        """The finished round as pabulib text, winners marked ``selected``, voters anonymous.

        Pabulib costs are whole currency units; when every cost is whole (£120, not £120.50)
        that is how they are written, so other tools (pabutools) read the round as it was.
        Otherwise amounts stay in minor units and META says so (``money_unit``).
        """
        election, unit = self.election, 10 ** minor_digits(self.money.currency)
        meta = {**election.meta, "currency": self.money.currency}
        if unit > 1 and all(project.cost % unit == 0 for project in election.projects.values()):
            projects = {
                project.id: Project(project.id, project.cost // unit, project.name, project.extra)
                for project in election.projects.values()
            }
            budget = Fraction(election.budget) / unit
        else:
            projects, budget = dict(election.projects), Fraction(election.budget)
            if unit > 1:
                meta["money_unit"] = format_money(Fraction(1, unit))  # "0.01"
        exported = Election(meta, budget, projects, list(election.ballots))
        return dump_pb(exported, selected=set(self.outcome.winners))


def count_round(
    ballots: Mapping[Voter, Iterable[str]],
    projects: Iterable[RoundProject],
    budget: int,
    currency: str,
    rule: str,
    description: str = "",
) -> RoundResult[Voter]:
    """Run ``rule`` on a round: ``ballots`` maps each voter (any key) to the ids they approve.

    Only eligible projects take part. Ballots were checked when cast; one naming a project
    that is unknown or ineligible now is refused rather than quietly changed.
    """
    validate_currency(currency)
    if isinstance(budget, bool) or not isinstance(budget, int) or budget <= 0:
        raise InvalidRound(
            f"the round's budget must be a positive number of minor units, got {budget!r}"
        )
    if rule not in RULES:
        raise InvalidRound(f"unknown rule {rule!r}; choose one of {', '.join(sorted(RULES))}")
    eligible = {
        project.id: Project(project.id, project.cost, project.name)
        for project in projects
        if project.eligible
    }
    anonymous: list[tuple[tuple[str, ...], Voter]] = []
    for voter, approved in ballots.items():
        ballot = tuple(sorted(set(approved)))
        unknown = [project_id for project_id in ballot if project_id not in eligible]
        if unknown:
            raise InvalidRound(f"a ballot approves projects not eligible in this round: {unknown}")
        anonymous.append((ballot, voter))
    # Sorting by content (then by position, never by voter) hides the order ballots were
    # stored in, which could otherwise link a ballot index to a member.
    order = sorted(range(len(anonymous)), key=lambda i: anonymous[i][0])
    meta = {"description": description} if description else {}
    # A project nobody approved is never funded in a round, although the greedy rules (as in
    # pabutools) would fund one if money were left: it is counted out, and explained apart.
    approved_ids = {project_id for ballot, _ in anonymous for project_id in ballot}
    counted = {pid: project for pid, project in eligible.items() if pid in approved_ids}
    unvoted = tuple(project for pid, project in sorted(eligible.items()) if pid not in counted)
    election = Election(meta, budget, counted, [frozenset(anonymous[i][0]) for i in order])
    step = 10 ** minor_digits(currency)  # one currency unit
    if rule == "mes_add1":
        outcome = mes_add1(election, step)
    elif rule == "mes_add1_greedy":
        outcome = mes_add1_greedy(election, step)
    else:
        outcome = RULES[rule](election)
    voters = {anonymous[i][1]: index for index, i in enumerate(order)}
    return RoundResult(election, outcome, MoneyFormat.minor_units(currency), voters, unvoted)
