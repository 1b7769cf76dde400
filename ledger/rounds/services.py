"""What people do in a round: a steward creates it (reserving its budget), members propose
projects, stewards review them, members cast approval ballots or pledge their share.

Each function is one request, run in the caller's transaction with the pot's lock held (taken
here, through ``ledger.journal.lock_pot``), so the phase, the membership and the money are all
read and changed under one lock; each records its event in the pot's audit log. Ballots are
secret: an event about a ballot names neither the voter nor the projects.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from ledger import audit
from ledger.errors import Forbidden, InvalidInput
from ledger.journal import EntryRequest, append_locked, lock_pot
from ledger.models import Pot
from ledger.money import MAX_AMOUNT, format_money
from ledger.operations import postings_for
from ledger.pb import rounds as pb
from ledger.pb.rounds import BallotLimits, Phase, RoundSchedule, check_ballot, phase_at
from ledger.people.membership import membership
from ledger.people.models import Membership, Role, User
from ledger.rounds.errors import (
    InvalidPledge,
    NotAllowedToVote,
    ProjectNotFound,
    RoundNotFound,
    VotingClosed,
    WrongKind,
    WrongPhase,
)
from ledger.rounds.models import (
    MAX_OC_SLUG,
    MAX_PAYEE,
    MAX_REASON,
    MAX_SUMMARY,
    MAX_TITLE,
    RULE_VALUES,
    Kind,
    Review,
    Round,
    RoundApproval,
    RoundBallot,
    RoundPledge,
    RoundProject,
)

_OC_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,254}$")


@dataclass(frozen=True)
class RoundSpec:
    """What a steward asks for; validated by :func:`create_round`."""

    title: str
    budget: int
    schedule: RoundSchedule
    kind: str = Kind.APPROVAL.value
    rule: str | None = "mes_add1"
    description: str = ""
    limits: BallotLimits = field(default_factory=BallotLimits)


@dataclass(frozen=True)
class ProjectDraft:
    """A project a member proposes. ``cost`` is its cost in an approval round and the most it
    may receive in a co-funding round, where ``minimum`` is what it needs to go ahead."""

    title: str
    cost: int
    payee_name: str
    summary: str = ""
    minimum: int | None = None
    payee_oc_slug: str | None = None


def voter_key(ballot_key: bytes, round_id: int, user_id: int) -> str:
    """Names a member's ballot (and pledges) in a round without naming the member."""
    message = f"round:{round_id}:{user_id}".encode()
    return hmac.new(ballot_key, message, hashlib.sha256).hexdigest()


def commitment_ref(round_: Round) -> str:
    return f"round:{round_.id}"


def schedule_of(round_: Round) -> RoundSchedule:
    return RoundSchedule(
        round_.proposals_open,
        round_.review_starts,
        round_.voting_starts,
        round_.results_at,
        round_.funded_at,
    )


def phase_of(round_: Round, now: datetime) -> Phase:
    """The phase by the clock; "funded" only once the money has actually moved."""
    phase = phase_at(schedule_of(round_), now)
    if phase is Phase.FUNDED and not round_.funded:
        return Phase.RESULTS
    return phase


def sync_state(round_: Round, now: datetime) -> Phase:
    """Record the phase the clock has reached (called by writes, under the pot's lock)."""
    phase = phase_of(round_, now)
    round_.state = phase.value
    return phase


# --- reading -------------------------------------------------------------------------------


def get_round(session: Session, round_id: object) -> Round:
    if (
        isinstance(round_id, bool)
        or not isinstance(round_id, int)
        or not 0 < round_id <= MAX_AMOUNT
    ):
        raise RoundNotFound(f"there is no round {round_id!r:.40}")
    found = session.get(Round, round_id)
    if found is None:
        raise RoundNotFound(f"there is no round {round_id}")
    return found


def pot_of(session: Session, round_: Round) -> Pot:
    pot = session.get(Pot, round_.pot_id)
    assert pot is not None
    return pot


def list_rounds(session: Session, pot: Pot) -> list[Round]:
    return list(session.scalars(select(Round).where(Round.pot_id == pot.id).order_by(Round.id)))


def projects_of(session: Session, round_: Round) -> list[RoundProject]:
    return list(
        session.scalars(
            select(RoundProject).where(RoundProject.round_id == round_.id).order_by(RoundProject.id)
        )
    )


def get_project(session: Session, round_: Round, project_id: object) -> RoundProject:
    valid = isinstance(project_id, int) and not isinstance(project_id, bool)
    project = session.get(RoundProject, project_id) if valid else None
    if project is None or project.round_id != round_.id:
        raise ProjectNotFound(f"round #{round_.id} has no project {project_id!r:.40}")
    return project


def approvals(session: Session, round_: Round) -> dict[int, int]:
    """Public tallies: how many ballots approve each project (never whose)."""
    rows = session.execute(
        select(RoundApproval.project_id, func.count())
        .join(RoundBallot, RoundBallot.id == RoundApproval.ballot_id)
        .where(RoundBallot.round_id == round_.id)
        .group_by(RoundApproval.project_id)
    )
    return {project_id: count for project_id, count in rows}


def pledged(session: Session, round_: Round) -> dict[int, tuple[int, int]]:
    """Per project of a co-funding round: (money pledged, number of pledgers)."""
    rows = session.execute(
        select(RoundPledge.project_id, func.sum(RoundPledge.amount), func.count())
        .where(RoundPledge.round_id == round_.id)
        .group_by(RoundPledge.project_id)
    )
    return {project_id: (int(total), count) for project_id, total, count in rows}


def ballots_cast(session: Session, round_: Round) -> int:
    return ballots_cast_in(session, [round_])[round_.id]


def ballots_cast_in(session: Session, rounds: Sequence[Round]) -> dict[int, int]:
    """How many members cast a ballot (approval rounds) or pledged (co-funding rounds) in each
    round, by id: one query per kind of round, however many rounds."""
    approval = [r.id for r in rounds if r.kind == Kind.APPROVAL]
    cofunding = [r.id for r in rounds if r.kind != Kind.APPROVAL]
    cast = {r.id: 0 for r in rounds}
    if approval:
        cast.update(
            _distinct_per_round(session, RoundBallot.round_id, RoundBallot.voter_key, approval)
        )
    if cofunding:
        cast.update(
            _distinct_per_round(session, RoundPledge.round_id, RoundPledge.pledger_key, cofunding)
        )
    return cast


def _distinct_per_round(
    session: Session,
    round_id: InstrumentedAttribute[int],
    key: InstrumentedAttribute[str],
    round_ids: list[int],
) -> dict[int, int]:
    rows = session.execute(
        select(round_id, func.count(func.distinct(key)))
        .where(round_id.in_(round_ids))
        .group_by(round_id)
    )
    return {r: n for r, n in rows}


def electorate(session: Session, round_: Round) -> int:
    return electorates(session, [round_])[round_.id]


def electorates(session: Session, rounds: Sequence[Round]) -> dict[int, int]:
    """Members who joined before voting opened, per round id (one query): who may vote, and
    who share a co-funding round's budget."""
    if not rounds:
        return {}
    rows = session.execute(
        select(Round.id, func.count(Membership.user_id))
        .join(
            Membership,
            (Membership.pot_id == Round.pot_id) & (Membership.joined_at < Round.voting_starts),
        )
        .where(Round.id.in_([r.id for r in rounds]))
        .group_by(Round.id)
    )
    return {r.id: 0 for r in rounds} | {round_id: n for round_id, n in rows}


def cofunding_share(session: Session, round_: Round, *, electorate_size: int | None = None) -> int:
    """Each member's equal share of a co-funding round's budget (minor units, rounded down:
    the indivisible remainder stays in the pot). A caller that has counted the round's
    electorate passes it in."""
    if electorate_size is None:
        electorate_size = electorate(session, round_)
    return round_.budget // max(electorate_size, 1)


def my_ballot(
    session: Session, round_: Round, user_id: int, ballot_key: bytes
) -> RoundBallot | None:
    key = voter_key(ballot_key, round_.id, user_id)
    return session.scalars(
        select(RoundBallot).where(RoundBallot.round_id == round_.id, RoundBallot.voter_key == key)
    ).one_or_none()


def approved_by(session: Session, ballot: RoundBallot) -> list[int]:
    return list(
        session.scalars(
            select(RoundApproval.project_id)
            .where(RoundApproval.ballot_id == ballot.id)
            .order_by(RoundApproval.project_id)
        )
    )


def my_pledges(session: Session, round_: Round, user_id: int, ballot_key: bytes) -> dict[int, int]:
    key = voter_key(ballot_key, round_.id, user_id)
    rows = session.execute(
        select(RoundPledge.project_id, RoundPledge.amount)
        .where(RoundPledge.round_id == round_.id, RoundPledge.pledger_key == key)
        .order_by(RoundPledge.project_id)
    )
    return {project_id: amount for project_id, amount in rows}


# --- writing -------------------------------------------------------------------------------


def create_round(
    session: Session, slug: str, spec: RoundSpec, *, user_id: int, now: datetime
) -> Round:
    """A steward opens a round: its budget moves from available to ``committed:round:<id>``
    in the same transaction (refused with InsufficientFunds if the pot lacks it)."""
    pot = lock_pot(session, slug)
    _require_steward(session, pot, user_id)
    _check_spec(spec, pot)
    schedule, limits = spec.schedule, spec.limits
    round_ = Round(
        pot_id=pot.id,
        title=spec.title.strip(),
        description=spec.description,
        kind=spec.kind,
        rule=spec.rule if spec.kind == Kind.APPROVAL else None,
        budget=spec.budget,
        proposals_open=schedule.proposals_open,
        review_starts=schedule.review_starts,
        voting_starts=schedule.voting_starts,
        results_at=schedule.results_at,
        funded_at=schedule.funded_at,
        min_projects=limits.min_projects,
        max_projects=limits.max_projects,
        max_cost=limits.max_cost,
        state=Phase.SCHEDULED.value,
        created_by=user_id,
        created_at=now,
        commitment_entry_seq=0,
        funded=False,
    )
    session.add(round_)
    session.flush()
    sync_state(round_, now)
    entry = append_locked(
        session,
        pot,
        EntryRequest(
            kind="allocation",
            memo=f"Budget of round #{round_.id}: {round_.title}",
            actor=f"user:{user_id}",
            postings=postings_for("allocation", spec.budget, commitment=commitment_ref(round_)),
            idempotency_key=f"round:{round_.id}:budget",
            data={"round": round_.id},
        ),
        now=now,
    ).entry
    round_.commitment_entry_seq = entry.seq
    audit.record(
        session,
        pot,
        "round_created",
        actor=f"user:{user_id}",
        data={
            "round": round_.id,
            "title": round_.title,
            "kind": round_.kind,
            "rule": round_.rule,
            "budget": round_.budget,
            "currency": pot.currency,
            "entry": entry.seq,
        },
        now=now,
    )
    return round_


def submit_project(
    session: Session, round_id: int, draft: ProjectDraft, *, user_id: int, now: datetime
) -> RoundProject:
    """A member proposes a project, while the round takes proposals."""
    pot, round_ = locked(session, round_id)
    phase = sync_state(round_, now)
    if membership(session, pot.id, user_id) is None:
        raise Forbidden(f"only members of {pot.slug} may propose projects")
    if phase is not Phase.PROPOSALS:
        raise WrongPhase(
            f"round #{round_.id} takes projects from {_when(round_.proposals_open)} until "
            f"{_when(round_.review_starts)}; it is now in its {phase.value} phase"
        )
    _check_draft(draft, round_, pot)
    project = RoundProject(
        round_id=round_.id,
        proposer_id=user_id,
        title=draft.title.strip(),
        summary=draft.summary,
        cost=draft.cost,
        minimum=draft.minimum if round_.kind == Kind.COFUNDING else None,
        payee_name=draft.payee_name.strip(),
        payee_oc_slug=draft.payee_oc_slug,
        created_at=now,
        review=Review.PENDING.value,
    )
    session.add(project)
    session.flush()
    audit.record(
        session,
        pot,
        "round_project_submitted",
        actor=f"user:{user_id}",
        data={
            "round": round_.id,
            "project": project.id,
            "title": project.title,
            "cost": project.cost,
            "minimum": project.minimum,
        },
        now=now,
    )
    return project


def review_project(
    session: Session,
    round_id: int,
    project_id: int,
    *,
    eligible: bool,
    reason: str | None,
    user_id: int,
    now: datetime,
) -> RoundProject:
    """A steward marks a project eligible or not (with a reason), during review."""
    pot, round_ = locked(session, round_id)
    phase = sync_state(round_, now)
    _require_steward(session, pot, user_id)
    project = get_project(session, round_, project_id)
    if phase is not Phase.REVIEW:
        raise WrongPhase(
            f"round #{round_.id} reviews projects from {_when(round_.review_starts)} until "
            f"{_when(round_.voting_starts)}; it is now in its {phase.value} phase"
        )
    if not isinstance(eligible, bool):
        raise InvalidInput("eligible: true or false")
    reason = _text("reason", reason, MAX_REASON, required=not eligible, multiline=True)
    project.review = (Review.ELIGIBLE if eligible else Review.INELIGIBLE).value
    project.review_reason = reason or None
    project.reviewed_by = user_id
    project.reviewed_at = now
    audit.record(
        session,
        pot,
        "round_project_reviewed",
        actor=f"user:{user_id}",
        data={
            "round": round_.id,
            "project": project.id,
            "review": project.review,
            "reason": project.review_reason,
        },
        now=now,
    )
    return project


def cast_ballot(
    session: Session,
    round_id: int,
    project_ids: Sequence[int],
    *,
    user_id: int,
    ballot_key: bytes,
    now: datetime,
) -> RoundBallot:
    """Cast or change a member's approval ballot while voting is open."""
    pot, round_ = locked(session, round_id)
    _may_vote(session, pot, round_, user_id, now)
    if round_.kind != Kind.APPROVAL:
        raise WrongKind(f"round #{round_.id} is a co-funding round: pledge your share instead")
    if isinstance(project_ids, str | bytes) or not all(
        isinstance(p, int) and not isinstance(p, bool) for p in project_ids
    ):
        raise InvalidInput("projects: a list of project ids (whole numbers)")
    projects = projects_of(session, round_)
    approved = check_ballot(
        [str(p) for p in project_ids],
        [
            pb.RoundProject(str(p.id), p.cost, p.title, p.review == Review.ELIGIBLE)
            for p in projects
        ],
        _limits(round_),
        currency=pot.currency,
    )
    key = voter_key(ballot_key, round_.id, user_id)
    ballot = session.scalars(
        select(RoundBallot).where(RoundBallot.round_id == round_.id, RoundBallot.voter_key == key)
    ).one_or_none()
    changed = ballot is not None
    if ballot is None:
        ballot = RoundBallot(round_id=round_.id, voter_key=key, cast_at=now, changed_at=now)
        session.add(ballot)
        session.flush()
    else:
        session.execute(delete(RoundApproval).where(RoundApproval.ballot_id == ballot.id))
        ballot.changed_at = now
    session.add_all(RoundApproval(ballot_id=ballot.id, project_id=int(p)) for p in approved)
    session.flush()
    audit.record(
        session,
        pot,
        "round_ballot_changed" if changed else "round_ballot_cast",
        actor="secret ballot",
        data={"round": round_.id},
        now=now,
    )
    return ballot


def withdraw_ballot(
    session: Session, round_id: int, *, user_id: int, ballot_key: bytes, now: datetime
) -> bool:
    """Take one's ballot (or pledges) back while voting is open; False if there was none."""
    pot, round_ = locked(session, round_id)
    _may_vote(session, pot, round_, user_id, now)
    key = voter_key(ballot_key, round_.id, user_id)
    if round_.kind == Kind.APPROVAL:
        ballot = my_ballot(session, round_, user_id, ballot_key)
        if ballot is None:
            return False
        session.execute(delete(RoundApproval).where(RoundApproval.ballot_id == ballot.id))
        session.delete(ballot)
    else:
        gone = session.execute(
            delete(RoundPledge).where(
                RoundPledge.round_id == round_.id, RoundPledge.pledger_key == key
            )
        )
        if not getattr(gone, "rowcount", 0):
            return False
    session.flush()
    audit.record(
        session,
        pot,
        "round_ballot_withdrawn",
        actor="secret ballot",
        data={"round": round_.id},
        now=now,
    )
    return True


def set_pledges(
    session: Session,
    round_id: int,
    pledges: Mapping[int, int],
    *,
    user_id: int,
    ballot_key: bytes,
    now: datetime,
) -> dict[int, int]:
    """Replace a member's pledges in a co-funding round: project id -> minor units.

    Refused as a whole if they exceed the member's equal share, name a project that is not
    eligible, or would take a project beyond its maximum."""
    pot, round_ = locked(session, round_id)
    _may_vote(session, pot, round_, user_id, now)
    if round_.kind != Kind.COFUNDING:
        raise WrongKind(f"round #{round_.id} is an approval round: cast a ballot instead")
    money = _money(pot)
    projects = {p.id: p for p in projects_of(session, round_)}
    for project_id, amount in pledges.items():
        project = projects.get(project_id)
        if project is None:
            raise InvalidPledge(f"project {project_id!r:.40} is not part of this round")
        if project.review != Review.ELIGIBLE:
            raise InvalidPledge(
                f"project {project_id} was not found eligible in review and cannot be funded"
            )
        if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= MAX_AMOUNT:
            raise InvalidPledge(
                f"a pledge is a positive whole number of minor units, not {amount!r:.40}"
            )
    share = cofunding_share(session, round_)
    total = sum(pledges.values())
    if total > share:
        raise InvalidPledge(
            f"your pledges add up to {money(total)}, more than your share of the round's "
            f"budget, {money(share)}"
        )
    key = voter_key(ballot_key, round_.id, user_id)
    session.execute(
        delete(RoundPledge).where(RoundPledge.round_id == round_.id, RoundPledge.pledger_key == key)
    )
    others = pledged(session, round_)
    for project_id, amount in sorted(pledges.items()):
        project = projects[project_id]
        already = others.get(project_id, (0, 0))[0]
        if already + amount > project.cost:
            raise InvalidPledge(
                f"project {project_id} may receive at most {money(project.cost)} and "
                f"{money(already)} is already pledged; {money(amount)} more is too much"
            )
    session.add_all(
        RoundPledge(round_id=round_.id, pledger_key=key, project_id=p, amount=a, pledged_at=now)
        for p, a in sorted(pledges.items())
    )
    session.flush()
    audit.record(
        session, pot, "round_pledged", actor="secret ballot", data={"round": round_.id}, now=now
    )
    return dict(sorted(pledges.items()))


# --- helpers -------------------------------------------------------------------------------


def locked(session: Session, round_id: int) -> tuple[Pot, Round]:
    """The round's pot, locked, and the round re-read under that lock."""
    round_ = get_round(session, round_id)
    pot = lock_pot(session, pot_of(session, round_).slug)
    session.refresh(round_)
    return pot, round_


def _may_vote(session: Session, pot: Pot, round_: Round, user_id: int, now: datetime) -> None:
    phase = sync_state(round_, now)
    member = membership(session, pot.id, user_id)
    if member is None:
        raise NotAllowedToVote(f"only members of {pot.slug} may vote in its rounds")
    if phase is not Phase.VOTING:
        if phase in (Phase.SCHEDULED, Phase.PROPOSALS, Phase.REVIEW):
            raise VotingClosed(
                f"voting in round #{round_.id} opens at {_when(round_.voting_starts)}"
            )
        raise VotingClosed(f"voting in round #{round_.id} closed at {_when(round_.results_at)}")
    if member.joined_at >= round_.voting_starts:
        raise NotAllowedToVote(
            f"you joined {pot.slug} after voting in round #{round_.id} opened; only members "
            "who joined before may vote"
        )


def _require_steward(session: Session, pot: Pot, user_id: int) -> None:
    member = membership(session, pot.id, user_id)
    if member is not None and member.role == Role.STEWARD:
        return
    user = session.get(User, user_id)
    if user is not None and user.is_admin:
        return
    raise Forbidden(f"only a steward of {pot.slug} may do this")


def _limits(round_: Round) -> BallotLimits:
    return BallotLimits(round_.min_projects, round_.max_projects, round_.max_cost)


def _money(pot: Pot) -> Callable[[int], str]:
    return lambda amount: format_money(amount, pot.currency)


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _check_spec(spec: RoundSpec, pot: Pot) -> None:
    _text("title", spec.title, MAX_TITLE)
    _text("description", spec.description, MAX_SUMMARY, required=False, multiline=True)
    if spec.kind not in (Kind.APPROVAL.value, Kind.COFUNDING.value):
        raise InvalidInput(f"kind: 'approval' or 'cofunding', not {spec.kind!r:.40}")
    if spec.kind == Kind.APPROVAL and spec.rule not in RULE_VALUES:
        raise InvalidInput(f"rule: one of {', '.join(RULE_VALUES)}, not {spec.rule!r:.40}")
    budget = spec.budget
    if isinstance(budget, bool) or not isinstance(budget, int) or not 0 < budget <= MAX_AMOUNT:
        raise InvalidInput(
            f"budget: a positive whole number of minor units ({pot.currency}), not {budget!r:.40}"
        )
    if not isinstance(spec.schedule, RoundSchedule) or not isinstance(spec.limits, BallotLimits):
        raise InvalidInput("a round needs a schedule and ballot limits")


def _check_draft(draft: ProjectDraft, round_: Round, pot: Pot) -> None:
    money = _money(pot)
    _text("title", draft.title, MAX_TITLE)
    _text("summary", draft.summary, MAX_SUMMARY, required=False, multiline=True)
    _text("payee name", draft.payee_name, MAX_PAYEE)
    if draft.payee_oc_slug is not None and (
        not isinstance(draft.payee_oc_slug, str)
        or len(draft.payee_oc_slug) > MAX_OC_SLUG
        or not _OC_SLUG.match(draft.payee_oc_slug)
    ):
        raise InvalidInput("payee Open Collective slug: lowercase letters, digits and hyphens")
    what = "cost" if round_.kind == Kind.APPROVAL else "maximum"
    for name, amount in ((what, draft.cost), ("minimum", draft.minimum)):
        if amount is None and name == "minimum" and round_.kind == Kind.APPROVAL:
            continue
        if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= MAX_AMOUNT:
            raise InvalidInput(
                f"{name}: a positive whole number of minor units, not {amount!r:.40}"
            )
    if round_.kind == Kind.APPROVAL and draft.minimum is not None:
        raise InvalidInput("minimum: only co-funding rounds take a minimum; give the cost")
    if draft.cost > round_.budget:
        raise InvalidInput(
            f"{what}: {money(draft.cost)} is more than the round's whole budget, "
            f"{money(round_.budget)}"
        )
    if draft.minimum is not None and draft.minimum > draft.cost:
        raise InvalidInput(
            f"minimum: {money(draft.minimum)} is more than the maximum, {money(draft.cost)}"
        )


def _text(
    name: str, value: object, limit: int, *, required: bool = True, multiline: bool = False
) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(f"{name}: must be text")
    if required and not value.strip():
        raise InvalidInput(f"{name}: must not be empty")
    if len(value) > limit:
        raise InvalidInput(f"{name}: at most {limit} characters; this is {len(value)}")
    allowed = "\t\n\r" if multiline else ""
    if any(ord(c) < 0x20 and c not in allowed for c in value):
        raise InvalidInput(f"{name}: without control characters")
    return value.strip()
