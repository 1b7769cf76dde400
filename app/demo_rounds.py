"""Demo participatory-budgeting rounds in the demo pot: one counted and funded, one voting now.

Run after the demo community (``app.demo_community``), whose people propose, review and vote
here through the same services a request goes through. The finished round is dated in the
autumn of 2026, after the demo's last ledger entry, so the ledger reads in date order; the
round still voting is dated relative to today, so that a newcomer signing in always finds a
ballot to cast. Idempotent: a round whose title the pot already has is left alone, and the
grant that pays for the rounds carries its own idempotency key.

Money: about £2,770 is available after the demo's proposals. A grant of £3,000 comes in for
the rounds first; the finished round reserves £3,000 and gives back what its winners did not
take, the voting round reserves £1,000, and what is left still covers the demo's open
proposal for resident researchers (£1,500) should a newcomer's vote carry it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.demo_community import PEOPLE
from ledger import operations
from ledger.db import Database
from ledger.pb.rounds import BallotLimits, RoundSchedule
from ledger.people import accounts
from ledger.pots import get_pot
from ledger.rounds import services, settlement
from ledger.rounds.models import Round

GRANT_KEY = "demo-rounds-001"
GRANT_PENCE = 300_000
GRANT_MEMO = "Grant from the Paul Hamlyn Foundation: community small grants rounds"
GRANT_AT = datetime(2026, 9, 24, 11, 0, tzinfo=UTC)


@dataclass(frozen=True)
class DemoProject:
    key: str
    title: str
    proposer: str
    pence: int
    payee: str
    summary: str
    #: None: eligible; else the stewards' reason for refusing it.
    refused: str | None = None


@dataclass(frozen=True)
class DemoRound:
    title: str
    description: str
    rule: str
    budget: int
    limits: BallotLimits
    projects: tuple[DemoProject, ...]
    #: (voter, project keys) in the order the ballots are cast.
    ballots: tuple[tuple[str, tuple[str, ...]], ...]


AUTUMN = DemoRound(
    title="Autumn small grants 2026",
    description=(
        "£3,000 for small resident-led projects across the network, decided by every member "
        "with an approval ballot and counted with the Method of Equal Shares."
    ),
    rule="mes_add1",
    budget=300_000,
    limits=BallotLimits(min_projects=1, max_projects=4, max_cost=None),
    projects=(
        DemoProject(
            "translation",
            "Open-call pack in Polish and Urdu",
            "sian",
            45_000,
            "Cyfieithu Cymru Ltd",
            "Translate the four-page open-call pack so that more residents can apply.",
        ),
        DemoProject(
            "childcare",
            "Childcare bursaries for the winter learning sessions",
            "grace",
            60_000,
            "Little Acorns Nursery CIC",
            "Twelve sessions of on-site childcare so that parents can take part.",
        ),
        DemoProject(
            "storytelling",
            "Resident storytelling workshop in Butetown",
            "rhys",
            68_000,
            "Butetown Community Centre",
            "Four evenings recording residents' experiences of local services, with a "
            "facilitator and a sound recordist.",
        ),
        DemoProject(
            "kits",
            "Shared library of facilitation kits",
            "dev",
            38_000,
            "Civic Practice Network CIC",
            "Three travelling kits (cards, timers, large-format paper, a portable speaker) "
            "that member teams can borrow.",
        ),
        DemoProject(
            "zine",
            "Practice-sharing zine, issue 3",
            "amara",
            52_000,
            "Riso Print Leeds",
            "A print run of 500 copies of stories from front-line practitioners.",
        ),
        DemoProject(
            "mentoring",
            "Mentoring circle for new public-service designers",
            "tom",
            90_000,
            "Civic Practice Network CIC",
            "Six months of monthly circles pairing new designers with experienced ones.",
        ),
        DemoProject(
            "audit",
            "Accessibility audit of member organisations' websites",
            "dev",
            120_000,
            "Open Access Audits Ltd",
            "An accessibility audit of ten member sites, with a half-day training session.",
        ),
        DemoProject(
            "photographer",
            "Professional photographer for the Glasgow gathering",
            "grace",
            95_000,
            "Lens & Light Studio",
            "Two days of event photography.",
            refused=(
                "Rounds fund resident-led activity; costs of the gathering go through an "
                "ordinary proposal."
            ),
        ),
    ),
    ballots=(
        ("amara", ("zine", "storytelling", "childcare")),
        ("rhys", ("storytelling", "translation", "kits")),
        ("sian", ("translation", "childcare", "storytelling")),
        ("dev", ("audit", "kits", "mentoring")),
        ("grace", ("childcare", "audit")),
        ("priya", ("mentoring", "kits", "translation", "childcare")),
        ("tom", ("mentoring", "zine")),
    ),
)

WINTER = DemoRound(
    title="Winter micro-grants 2026",
    description=(
        "£1,000 for small things that help members through the winter. Every member may "
        "approve up to three projects; counted with the Method of Equal Shares."
    ),
    rule="mes",
    budget=100_000,
    limits=BallotLimits(min_projects=1, max_projects=3, max_cost=None),
    projects=(
        DemoProject(
            "warm-space",
            "Warm-space evenings at the Hackney hub",
            "grace",
            40_000,
            "Hackney Community Hub",
            "Heating, tea and a host for eight Thursday evenings.",
        ),
        DemoProject(
            "welsh-call",
            "Welsh-language peer support call",
            "sian",
            25_000,
            "Siân Evans",
            "A fortnightly call for Welsh-speaking practitioners, with a paid host.",
        ),
        DemoProject(
            "newsletter",
            "Printed winter newsletter for members offline",
            "tom",
            15_000,
            "Riso Print Leeds",
            "Printing and posting 120 copies for members who are not online.",
        ),
        DemoProject(
            "bus-fares",
            "Bus fares for resident researchers",
            "rhys",
            30_000,
            "Resident researchers",
            "Travel to interviews for the resident research team, December to February.",
        ),
        DemoProject(
            "facilitation",
            "Facilitation training for new members",
            "amara",
            35_000,
            "Civic Practice Network CIC",
            "A one-day course for ten members who want to host sessions.",
        ),
    ),
    # Priya, Tom and Amara (printed by ``commonpot demo``) have not voted yet.
    ballots=(
        ("rhys", ("bus-fares", "warm-space")),
        ("sian", ("welsh-call", "facilitation")),
        ("dev", ("warm-space", "newsletter", "facilitation")),
        ("grace", ("warm-space", "bus-fares")),
    ),
)

_AUTUMN_SCHEDULE = RoundSchedule(
    proposals_open=datetime(2026, 9, 28, 9, 0, tzinfo=UTC),
    review_starts=datetime(2026, 10, 12, 9, 0, tzinfo=UTC),
    voting_starts=datetime(2026, 10, 16, 9, 0, tzinfo=UTC),
    results_at=datetime(2026, 10, 26, 9, 0, tzinfo=UTC),
    funded_at=datetime(2026, 10, 28, 9, 0, tzinfo=UTC),
)


def winter_schedule(now: datetime) -> RoundSchedule:
    """Voting opened five days ago and closes in nine."""
    today = now.replace(minute=0, second=0, microsecond=0)
    return RoundSchedule(
        proposals_open=today - timedelta(days=20),
        review_starts=today - timedelta(days=12),
        voting_starts=today - timedelta(days=5),
        results_at=today + timedelta(days=9),
        funded_at=today + timedelta(days=12),
    )


def load_rounds(db: Database, slug: str, *, ballot_key: bytes, now: datetime | None = None) -> int:
    """Load the demo rounds into pot ``slug``; returns how many rounds were new."""
    now = now or datetime.now(UTC)
    new = 0
    with db.write() as session:
        operations.record(
            session,
            slug,
            "contribution",
            GRANT_PENCE,
            memo=GRANT_MEMO,
            actor="demo",
            idempotency_key=GRANT_KEY,
            now=GRANT_AT,
        )
    # Each round in one transaction: it is there whole, or not at all.
    with db.write() as session:
        if not _exists(session, slug, AUTUMN.title):
            _run(session, slug, AUTUMN, _AUTUMN_SCHEDULE, ballot_key=ballot_key)
            settlement.advance(session, slug, now=_AUTUMN_SCHEDULE.funded_at + timedelta(hours=1))
            new += 1
    with db.write() as session:
        if not _exists(session, slug, WINTER.title):
            _run(session, slug, WINTER, winter_schedule(now), ballot_key=ballot_key)
            new += 1
    return new


def _exists(session: Session, slug: str, title: str) -> bool:
    pot = get_pot(session, slug)
    found = session.scalar(select(Round.id).where(Round.pot_id == pot.id, Round.title == title))
    return found is not None


def _run(
    session: Session, slug: str, item: DemoRound, schedule: RoundSchedule, *, ballot_key: bytes
) -> None:
    """Create the round, then propose, review and vote in it, each in its own phase."""
    ids = _people(session)
    round_ = services.create_round(
        session,
        slug,
        services.RoundSpec(
            title=item.title,
            description=item.description,
            rule=item.rule,
            budget=item.budget,
            schedule=schedule,
            limits=item.limits,
        ),
        user_id=ids["priya"],
        now=schedule.proposals_open - timedelta(days=3),
    )
    projects: dict[str, int] = {}
    for n, project in enumerate(item.projects):
        draft = services.ProjectDraft(
            title=project.title,
            cost=project.pence,
            payee_name=project.payee,
            summary=project.summary,
        )
        moment = schedule.proposals_open + timedelta(days=1, hours=5 * n)
        projects[project.key] = services.submit_project(
            session, round_.id, draft, user_id=ids[project.proposer], now=moment
        ).id
    for n, project in enumerate(item.projects):
        services.review_project(
            session,
            round_.id,
            projects[project.key],
            eligible=project.refused is None,
            reason=project.refused,
            user_id=ids["priya"],
            now=schedule.review_starts + timedelta(hours=2, minutes=10 * n),
        )
    for n, (voter, keys) in enumerate(item.ballots):
        services.cast_ballot(
            session,
            round_.id,
            [projects[key] for key in keys],
            user_id=ids[voter],
            ballot_key=ballot_key,
            now=schedule.voting_starts + timedelta(hours=3 + 7 * n),
        )


def _people(session: Session) -> dict[str, int]:
    """The demo community's user ids by key (``app.demo_community`` made them)."""
    ids: dict[str, int] = {}
    for person in PEOPLE:
        user = accounts.find_user(session, person.email)
        if user is None:
            raise LookupError(f"load the demo community first: {person.email} is missing")
        ids[person.key] = user.id
    return ids
