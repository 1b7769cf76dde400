"""Demo community: the people of the demo pot, its rules, and proposals at every stage.

Run after the pot's money history (``app.demo``). Past events carry their own dates; the
proposals still open are dated relative to today, so that a newcomer always finds something
to vote on. Idempotent: a person, rule change or proposal that exists already is left alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.db import Database
from ledger.governance import proposals, rulebook
from ledger.governance.models import Proposal
from ledger.journal import lock_pot
from ledger.people import accounts
from ledger.people.membership import membership
from ledger.people.models import Membership
from ledger.pots import get_pot

#: Everyone in the demo signs in with this password (demo data only; printed by the command).
DEMO_PASSWORD = "commonpot-demo-2026"
JOINED = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class DemoPerson:
    key: str
    name: str
    role: str

    @property
    def email(self) -> str:
        return f"{self.key}@civic-practice.example"


PEOPLE = (
    DemoPerson("priya", "Priya Shah", "steward"),
    DemoPerson("tom", "Tom Hughes", "treasurer"),
    DemoPerson("amara", "Amara Okafor", "member"),
    DemoPerson("rhys", "Rhys Llewellyn", "member"),
    DemoPerson("sian", "Siân Evans", "member"),
    DemoPerson("dev", "Dev Patel", "member"),
    DemoPerson("grace", "Grace Mensah", "member"),
)

RULES = {
    "rule": {"kind": "threshold", "approvals_needed": 3, "objections_to_reject": 2},
    "voting_window_hours": 7 * 24,
    "max_open_proposals_per_member": 2,
    "max_amount": 800_000,
}


@dataclass(frozen=True)
class DemoProposal:
    title: str
    proposer: str
    amount: int
    payee: str
    category: str
    summary: str
    #: (person, choice, reason) in order; times follow the opening an hour apart.
    votes: tuple[tuple[str, str, str | None], ...] = ()
    #: Days before today it opened (None: on ``opened`` below).
    opened_days_ago: int | None = None
    opened: datetime | None = None
    payouts: tuple[int, ...] = ()
    withdraw: bool = False


PROPOSALS = (
    DemoProposal(
        "Peer-learning visits between councils",
        "amara",
        120_000,
        "Civic Practice Network CIC",
        "learning",
        "Six paired visits between **service-design teams** in Leeds, Hackney and Cardiff, "
        "with travel for two people per visit and a short write-up each.",
        votes=(
            ("rhys", "approve", "We learnt more from one visit than a year of webinars"),
            ("sian", "approve", None),
            ("dev", "approve", "Yes, and share the write-ups"),
        ),
        opened=datetime(2026, 9, 7, 10, 0, tzinfo=UTC),
        payouts=(60_000,),
    ),
    DemoProposal(
        "Welsh translation of the relational practice toolkit",
        "sian",
        80_000,
        "Cyfieithu Cymru Ltd",
        "publications",
        "Translate the 40-page toolkit into Welsh so that Welsh-language teams can use it.",
        votes=(
            ("amara", "approve", None),
            ("grace", "approve", None),
            ("rhys", "approve", "Long overdue"),
        ),
        opened=datetime(2026, 9, 14, 10, 0, tzinfo=UTC),
        payouts=(80_000,),
    ),
    DemoProposal(
        "Podcast series on relational public services",
        "dev",
        250_000,
        "Dev Patel",
        "communications",
        "Eight episodes interviewing front-line staff and residents.",
        votes=(
            ("grace", "object", "A lot of money for something few of us would use"),
            ("amara", "approve", None),
            ("tom", "object", "Let's fund the toolkit first"),
        ),
        opened=datetime(2026, 10, 1, 10, 0, tzinfo=UTC),
    ),
    DemoProposal(
        "Regional gathering in Glasgow",
        "grace",
        600_000,
        "Glasgow Community Halls Trust",
        "events",
        "Two days, 80 people, with bursaries for travel so that smaller organisations can "
        "come. Venue, catering, BSL interpretation and childcare included.",
        votes=(("priya", "approve", "The Manchester one was the best thing we did"),),
        opened_days_ago=2,
    ),
    DemoProposal(
        "Small grants for resident researchers",
        "rhys",
        150_000,
        "Resident researchers (10 x £150)",
        "research",
        "Ten grants of £150 so that residents can join our research as paid co-researchers.",
        votes=(("amara", "approve", None), ("sian", "abstain", "I'm one of the researchers")),
        opened_days_ago=1,
    ),
    DemoProposal(
        "Branded tote bags for the gathering",
        "dev",
        30_000,
        "PrintCo",
        "events",
        "Withdrawn after feedback on the chat.",
        opened=datetime(2026, 10, 20, 10, 0, tzinfo=UTC),
        withdraw=True,
    ),
)


def load_community(db: Database, slug: str, *, ballot_key: bytes) -> int:
    """Load people, rules and proposals into pot ``slug``; returns how many things were new."""
    new = 0
    with db.write() as session:
        ids, added = _people(session, slug)
        new += added
        new += _rules(session, slug, ids["priya"])
    now = datetime.now(UTC)
    for item in PROPOSALS:
        new += _proposal(db, slug, item, ids, ballot_key=ballot_key, now=now)
    return new


def _people(session: Session, slug: str) -> tuple[dict[str, int], int]:
    pot = lock_pot(session, slug)
    ids: dict[str, int] = {}
    added = 0
    for p in PEOPLE:
        user = accounts.find_user(session, p.email)
        if user is None:
            user = accounts.create_user(session, p.email, name=p.name, password=DEMO_PASSWORD)
            added += 1
        ids[p.key] = user.id
        if membership(session, pot.id, user.id) is None:
            session.add(Membership(pot_id=pot.id, user_id=user.id, role=p.role, joined_at=JOINED))
    return ids, added


def _rules(session: Session, slug: str, steward_id: int) -> int:
    pot = lock_pot(session, slug)
    if rulebook.rules_in_force(session, pot).chosen:
        return 0
    rulebook.change_rules(session, pot, RULES, user_id=steward_id, actor=f"user:{steward_id}")
    return 1


def _proposal(
    db: Database,
    slug: str,
    item: DemoProposal,
    ids: dict[str, int],
    *,
    ballot_key: bytes,
    now: datetime,
) -> int:
    with db.read() as session:
        pot = get_pot(session, slug)
        if session.scalar(
            select(Proposal.id).where(Proposal.pot_id == pot.id, Proposal.title == item.title)
        ):
            return 0
    opened = item.opened or now - timedelta(days=item.opened_days_ago or 0, hours=3)
    draft = proposals.Draft(
        title=item.title,
        summary=item.summary,
        amount=item.amount,
        payee_name=item.payee,
        category=item.category,
    )
    with db.write() as session:
        pid = proposals.submit(
            session, slug, draft, user_id=ids[item.proposer], open_now=True, now=opened
        ).id
    moment = opened
    for who, choice, reason in item.votes:
        moment += timedelta(hours=5)
        with db.write() as session:
            proposals.vote(
                session,
                pid,
                user_id=ids[who],
                choice=choice,
                reason=reason,
                ballot_key=ballot_key,
                now=moment,
            )
    for amount in item.payouts:
        moment += timedelta(days=9)
        with db.write() as session:
            proposals.pay(
                session,
                pid,
                amount,
                memo=None,
                actor=f"user:{ids['tom']}",
                idempotency_key=f"demo-payout-{pid}-{amount}",
                now=moment,
            )
    if item.withdraw:
        with db.write() as session:
            proposals.withdraw(
                session, pid, user_id=ids[item.proposer], now=moment + timedelta(days=1)
            )
    return 1
