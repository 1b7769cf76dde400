"""What the clock does to a round: count it once voting has closed, and fund its winners.

:func:`advance` is safe to run from several processes and hosts at once (``commonpot rounds
advance`` from cron, and reads that find a round due): it locks the pot, then re-reads every
round's state under that lock, so a round is counted once and funded once, whoever gets there
first. Funding is one transaction under the pot's lock: the winners become funded proposals,
and one batch of ledger entries (:func:`ledger.batch.append_many_locked`, all or nothing)
releases the round's budget from ``committed:round:<id>`` and allocates each winner's money
to ``committed:proposal:<id>``; whatever the winners did not take stays available.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import audit
from ledger.batch import append_many_locked
from ledger.chain import canonical_json_text, format_timestamp
from ledger.governance.models import Proposal, Status
from ledger.journal import EntryRequest, lock_pot
from ledger.models import Pot
from ledger.money import format_money
from ledger.operations import postings_for
from ledger.pb import rounds as pb
from ledger.pb.cofunding import Pledge, allocate_cofunding
from ledger.pb.cofunding import Proposal as CofundingProposal
from ledger.pb.rounds import Phase, phase_at
from ledger.rounds.models import (
    Kind,
    Review,
    Round,
    RoundApproval,
    RoundBallot,
    RoundPledge,
    RoundProject,
    RoundResult,
)
from ledger.rounds.services import commitment_ref, electorate, projects_of, schedule_of


@dataclass(frozen=True)
class Count:
    """A counted round, ready to store: what each winner gets, in selection order."""

    awards: list[tuple[int, int]]
    voters: int
    explanation: dict[str, Any]
    pb_text: str | None

    @property
    def spent(self) -> int:
        return sum(amount for _, amount in self.awards)


def advance(session: Session, slug: str, *, now: datetime) -> list[Round]:
    """Count every round of the pot whose voting has closed, and fund every round whose
    funding date has come; returns the rounds this call changed."""
    pot = lock_pot(session, slug)
    # Read after the lock: a round another process settled meanwhile shows as settled.
    pending = session.scalars(
        select(Round)
        .where(Round.pot_id == pot.id, Round.funded.is_(False))
        .order_by(Round.id)
        .execution_options(populate_existing=True)
    ).all()
    changed = []
    for round_ in pending:
        phase = phase_at(schedule_of(round_), now)
        if phase not in (Phase.RESULTS, Phase.FUNDED):
            continue
        result = stored_result(session, round_)
        did = False
        if result is None:
            result = _store(session, pot, round_, count(session, pot, round_), now=now)
            did = True
        if phase is Phase.FUNDED:
            _fund(session, pot, round_, result, now=now)
            did = True
        round_.state = (Phase.FUNDED if round_.funded else Phase.RESULTS).value
        if did:
            changed.append(round_)
    return changed


def pots_with_due_rounds(session: Session, *, now: datetime) -> list[str]:
    return list(
        session.scalars(
            select(Pot.slug)
            .join(Round, Round.pot_id == Pot.id)
            .where(Round.funded.is_(False), Round.results_at <= now)
            .distinct()
            .order_by(Pot.slug)
        )
    )


def stored_result(session: Session, round_: Round) -> RoundResult | None:
    return session.scalars(
        select(RoundResult).where(RoundResult.round_id == round_.id)
    ).one_or_none()


def awards_of(result: RoundResult) -> list[tuple[int, int]]:
    return [(int(project), int(amount)) for project, amount in json.loads(result.awards_json)]


def count(session: Session, pot: Pot, round_: Round) -> Count:
    """Count the round from its stored ballots or pledges (changes nothing)."""
    projects = projects_of(session, round_)
    if round_.kind == Kind.COFUNDING:
        return _count_cofunding(session, pot, round_, projects)
    assert round_.rule is not None
    rows = session.execute(
        select(RoundBallot.voter_key, RoundApproval.project_id)
        .join(RoundApproval, RoundApproval.ballot_id == RoundBallot.id)
        .where(RoundBallot.round_id == round_.id)
    )
    ballots: dict[str, list[str]] = {}
    for key, project_id in rows:
        ballots.setdefault(key, []).append(str(project_id))
    result = pb.count_round(
        ballots,
        [
            pb.RoundProject(str(p.id), p.cost, p.title, p.review == Review.ELIGIBLE)
            for p in projects
        ],
        round_.budget,
        pot.currency,
        round_.rule,
        description=round_.title,
    )
    by_id = {str(p.id): p for p in projects}
    return Count(
        awards=[(int(w), by_id[w].cost) for w in result.winners],
        voters=len(ballots),
        explanation=result.explanation().as_dict(),
        pb_text=result.to_pb(),
    )


def _count_cofunding(
    session: Session, pot: Pot, round_: Round, projects: list[RoundProject]
) -> Count:
    rows = session.execute(
        select(RoundPledge.pledger_key, RoundPledge.project_id, RoundPledge.amount).where(
            RoundPledge.round_id == round_.id
        )
    ).all()
    pledgers = sorted({key for key, _, _ in rows})
    # Every member who could pledge has a share, pledged or not: fillers stand for the rest.
    size = max(electorate(session, round_), len(pledgers), 1)
    members = pledgers + [f"member-{i}" for i in range(size - len(pledgers))]
    eligible = [p for p in projects if p.review == Review.ELIGIBLE]
    outcome = allocate_cofunding(
        round_.budget,
        members,
        [CofundingProposal(str(p.id), p.minimum or p.cost, p.cost) for p in eligible],
        [Pledge(key, str(project_id), amount) for key, project_id, amount in rows],
    )
    money = lambda amount: format_money(amount, pot.currency)  # noqa: E731
    per_project = []
    for project in projects:
        pid = str(project.id)
        total = sum(a for _, p, a in rows if p == project.id)
        backers = len({k for k, p, _ in rows if p == project.id})
        won = pid in outcome.funded
        if project.review != Review.ELIGIBLE:
            reason = "Not funded: it was not found eligible in review."
        elif won:
            reason = (
                f"Funded: {backers} member(s) pledged {money(total)}, reaching its minimum of "
                f"{money(project.minimum or project.cost)}."
            )
        else:
            reason = (
                f"Not funded: {money(total)} was pledged, short of its minimum of "
                f"{money(project.minimum or project.cost)}; the pledges go back."
            )
        per_project.append(
            {
                "project_id": pid,
                "name": project.title,
                "minimum": project.minimum,
                "maximum": project.cost,
                "pledged": total,
                "pledgers": backers,
                "won": won,
                "reason": reason,
            }
        )
    spent = outcome.spent
    summary = (
        f"Co-funding: the {money(round_.budget)} budget was shared equally between "
        f"{size} member(s), {money(outcome.share)} each. {len(outcome.funded)} of "
        f"{len(projects)} projects reached their minimum and were funded; "
        f"{money(spent)} spent, {money(round_.budget - spent)} returned to the pot."
    )
    return Count(
        awards=[(int(pid), amount) for pid, amount in outcome.funded.items()],
        voters=len(pledgers),
        explanation={
            "rule": "cofunding",
            "currency": pot.currency,
            "budget": str(round_.budget),
            "spent": spent,
            "voters": len(pledgers),
            "share": str(outcome.share),
            "summary": summary,
            "projects": per_project,
        },
        pb_text=None,
    )


def _store(
    session: Session, pot: Pot, round_: Round, counted: Count, *, now: datetime
) -> RoundResult:
    result = RoundResult(
        round_id=round_.id,
        counted_at=now,
        voters=counted.voters,
        spent=counted.spent,
        awards_json=json.dumps([[str(p), a] for p, a in counted.awards]),
        explanation_json=canonical_json_text(counted.explanation),
        pb_text=counted.pb_text,
    )
    session.add(result)
    session.flush()
    audit.record(
        session,
        pot,
        "round_counted",
        actor="clock",
        data={
            "round": round_.id,
            "winners": [p for p, _ in counted.awards],
            "spent": counted.spent,
            "voters": counted.voters,
        },
        now=now,
    )
    return result


def _fund(session: Session, pot: Pot, round_: Round, result: RoundResult, *, now: datetime) -> None:
    """Winners become funded proposals; the budget is released and re-allocated to them in
    one batch of entries. Runs once per round: the caller holds the lock and saw it unfunded."""
    projects = {p.id: p for p in projects_of(session, round_)}
    awards = awards_of(result)
    funded: list[tuple[RoundProject, Proposal]] = []
    for project_id, amount in awards:
        project = projects[project_id]
        proposal = Proposal(
            pot_id=pot.id,
            proposer_id=project.proposer_id,
            title=project.title,
            summary=project.summary,
            amount=amount,
            payee_name=project.payee_name,
            payee_oc_slug=project.payee_oc_slug,
            category=f"round:{round_.id}",
            status=Status.FUNDED.value,
            created_at=now,
            decided_at=now,
            decision_json=canonical_json_text(_decision(round_, project, result, now)),
            funded_at=now,
            paid_amount=0,
        )
        session.add(proposal)
        funded.append((project, proposal))
    session.flush()
    requests = [
        EntryRequest(
            kind="release",
            memo=f"Round #{round_.id} settled: its budget leaves the round ({round_.title})",
            actor="clock",
            postings=postings_for("release", round_.budget, commitment=commitment_ref(round_)),
            idempotency_key=f"round:{round_.id}:release",
            data={"round": round_.id, "winners": [p.id for _, p in funded]},
        )
    ]
    requests += [
        EntryRequest(
            kind="allocation",
            memo=f"Funding proposal #{proposal.id}: {proposal.title} (won round #{round_.id})",
            actor="clock",
            postings=postings_for(
                "allocation", proposal.amount, commitment=f"proposal:{proposal.id}"
            ),
            idempotency_key=f"round:{round_.id}:project:{project.id}",
            data={"round": round_.id, "project": project.id, "proposal": proposal.id},
        )
        for project, proposal in funded
    ]
    entries = append_many_locked(session, pot, requests, now=now)
    for (project, proposal), appended in zip(funded, entries[1:], strict=True):
        proposal.funding_entry_seq = appended.entry.seq
        project.proposal_id = proposal.id
        audit.record(
            session,
            pot,
            "proposal_created",
            actor="clock",
            proposal_id=proposal.id,
            data={
                "title": proposal.title,
                "amount": proposal.amount,
                "currency": pot.currency,
                "payee": proposal.payee_name,
                "round": round_.id,
                "project": project.id,
            },
            now=now,
        )
        audit.record(
            session,
            pot,
            "proposal_funded",
            actor="clock",
            proposal_id=proposal.id,
            data={
                "amount": proposal.amount,
                "entry": appended.entry.seq,
                "hash": appended.entry.hash,
            },
            now=now,
        )
    round_.funded = True
    round_.settled_at = now
    round_.settlement_entry_seq = entries[0].entry.seq
    audit.record(
        session,
        pot,
        "round_funded",
        actor="clock",
        data={
            "round": round_.id,
            "proposals": [p.id for _, p in funded],
            "spent": result.spent,
            "released": round_.budget - result.spent,
            "entries": [e.entry.seq for e in entries],
        },
        now=now,
    )


def _decision(
    round_: Round, project: RoundProject, result: RoundResult, now: datetime
) -> dict[str, Any]:
    """What a funded proposal's ``decision`` says: that it won a round."""
    explanation = json.loads(result.explanation_json)
    reason = next(
        (p["reason"] for p in explanation["projects"] if p["project_id"] == str(project.id)),
        "Won the round.",
    )
    approvals = next(
        (
            p.get("approvals", 0)
            for p in explanation["projects"]
            if p["project_id"] == str(project.id)
        ),
        0,
    )
    return {
        "outcome": "approved",
        "reason": f"Won round #{round_.id} ({round_.title}): {reason}",
        "decided_at": format_timestamp(now),
        "rule_version": None,
        "rule_kind": f"round:{round_.rule or round_.kind}",
        "tally": {
            "approvals": approvals,
            "objections": 0,
            "abstentions": 0,
            "steward_approvals": 0,
        },
        "round": round_.id,
        "project": project.id,
    }
