"""A pot's proposals for anyone to read: the list, each proposal, and downloads of them all.

Where a proposal stands (status at this moment, tally, decision, money, timeline) and what
ballot secrecy hides are decided by ``ledger.governance.reading``, exactly as for the API; the
pages only lay it out. Who may read a proposal at all is ``proposals.may_see``: a draft is its
proposers' alone, so it is in no public list and its page is not found for anyone else (its
proposers are sent to the draft's own page). Submitting, drafts, voting and withdrawing are in
``app.web.proposing``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, redirect, render_template, request, url_for
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response as Redirect
from wtforms import SelectChoice

from app import markdown
from app.api.proposals import ballot_key
from app.extensions import database
from app.web.forms import VOTE_CHOICES, ActionForm, ProposalFilterForm, VoteForm
from app.web.signin import signed_in
from ledger import pots as ledger_pots
from ledger.db import Database
from ledger.entries import csv_safe
from ledger.governance import proposals, reading, rulebook
from ledger.governance.errors import ProposalNotFound
from ledger.governance.funding import HOLDING
from ledger.governance.models import Choice, Proposal, Status
from ledger.governance.rules import Ballot
from ledger.models import Pot
from ledger.money import to_decimal_string
from ledger.people.membership import may_act
from ledger.timestamps import utcnow

blp = Blueprint("proposals", __name__)

PAGE_SIZE = 20
EXPORT_BATCH = 100
CSV_COLUMNS = (
    "id",
    "title",
    "status",
    "category",
    "amount",
    "currency",
    "payee",
    "payee_opencollective",
    "proposer",
    "created_at",
    "opened_at",
    "closes_at",
    "decided_at",
    "approvals",
    "objections",
    "abstentions",
    "decision_reason",
    "committed",
    "paid",
    "rules_version",
    "ballot",
)
#: What each status means, in the words of docs/decision-rules.md.
STATUS_HINTS = {
    "draft": "not yet open for votes",
    "open": "members are voting",
    "approved": "approved, waiting for funds",
    "rejected": "the community said no",
    "withdrawn": "taken back by its proposer",
    "expired": "not enough people took part before the deadline",
    "funded": "approved; the money is set aside",
    "partly_paid": "approved; part of the money is paid",
    "paid": "approved and paid in full",
    "closed": "closed by the treasurer",
}


@dataclass(frozen=True)
class PotView:
    """What the proposal pages need of a pot, read once inside the session."""

    slug: str
    name: str
    currency: str

    @classmethod
    def of(cls, pot: Pot) -> PotView:
        return cls(pot.slug, pot.name, pot.currency)


@dataclass(frozen=True)
class CategorySpending:
    category: str | None  # None: proposals without a category
    committed: int  # set aside, not yet paid
    paid: int


@blp.app_template_filter("status_label")
def status_label(status: str) -> str:
    return status.replace("_", " ")


@blp.app_template_global("status_hint")
def status_hint(status: str) -> str:
    return STATUS_HINTS.get(status, "")


@blp.get("/pots/<slug>/proposals")
def listing(slug: str) -> tuple[str, int]:
    user = signed_in()
    form = ProposalFilterForm(formdata=request.args)
    with database().read() as session:
        pot = ledger_pots.get_pot(session, slug)
        form.category.choices = [*form.category.choices, *categories(session, pot)]
        valid = form.validate()
        items: list[dict[str, Any]] = []
        next_after = None
        if valid:
            page = proposals.list_proposals(
                session,
                pot,
                status=form.status.data or None,
                category=form.category.data or None,
                public_only=True,
                after_id=form.after.data or 0,
                limit=PAGE_SIZE + 1,
            )
            items = describe_all(session, pot, page[:PAGE_SIZE])
            next_after = page[PAGE_SIZE - 1].id if len(page) > PAGE_SIZE else None
        # The reader's own drafts, apart from the public list (only they are shown them).
        drafts = (
            describe_all(session, pot, proposals.drafts_of(session, pot, user.id)) if user else []
        )
        view = PotView.of(pot)
    return render_template(
        "proposals/list.html",
        pot=view,
        form=form,
        items=items,
        drafts=drafts,
        next_after=next_after,
        filters=form.query_args() if valid else {},
        filtered=bool(valid and form.query_args()),
        first_page=not form.after.data,
    ), (200 if valid else 400)


@blp.get("/pots/<slug>/proposals/<int:proposal_id>")
def detail(slug: str, proposal_id: int) -> Redirect | tuple[str, int]:
    return render_detail(slug, proposal_id)


def render_detail(
    slug: str,
    proposal_id: int,
    *,
    vote_form: VoteForm | None = None,
    problem: str | None = None,
    status: int = 200,
) -> Redirect | tuple[str, int]:
    """The proposal page; a refused vote or withdrawal shows it again with ``problem``. A
    draft's proposers are sent to the draft's page (everyone else finds nothing here)."""
    user = signed_in()
    with database().read() as session:
        pot, proposal = find(session, slug, proposal_id, viewer_id=user.id if user else None)
        if proposal.status == Status.DRAFT:
            return redirect(url_for("web.proposing.draft", slug=slug, proposal_id=proposal_id))
        described = reading.detail(
            session,
            pot,
            proposal,
            now=utcnow(),
            render=markdown.render,
            viewer_id=user.id if user else None,
            ballot_key=ballot_key(),
        )
        # Any role in the pot, or a site admin: the one pot-role check (as require_pot_role).
        acts_in_pot = user is not None and may_act(session, user, slug)
        version = proposal.rules_version
        rule_kind = rulebook.rules_version(session, pot, version).kind if version else None
        view = PotView.of(pot)
    proposer_ids = {described["proposer"]["id"], *(p["id"] for p in described["co_proposers"])}
    is_proposer = user is not None and user.id in proposer_ids
    if vote_form is None:
        vote_form = VoteForm(formdata=None)
        if described["my_vote"]:
            vote_form.choice.data = described["my_vote"]["choice"]
            vote_form.reason.data = described["my_vote"]["reason"] or ""
    if rule_kind == "consent":  # an objection is called a block under consent
        vote_form.choice.choices = [
            SelectChoice(c.value, "Block" if c.value == Choice.OBJECT else c.label)
            for c in VOTE_CHOICES
        ]
    return render_template(
        "proposals/detail.html",
        pot=view,
        p=described,
        secret=described["ballot"] == Ballot.SECRET.value,
        can_vote=described["status"] == Status.OPEN and acts_in_pot and not is_proposer,
        is_proposer=is_proposer,
        can_withdraw=is_proposer
        and described["status"] in (Status.DRAFT, Status.OPEN, Status.APPROVED, Status.FUNDED),
        vote_form=vote_form,
        withdraw_form=ActionForm(formdata=None),
        problem=problem,
        rule_kind=rule_kind,
    ), status


def find(
    session: Session, slug: str, proposal_id: int, *, viewer_id: int | None
) -> tuple[Pot, Proposal]:
    """The pot and its proposal, if ``viewer_id`` may see it: a proposal of another pot, or
    someone else's draft, is not found here (a draft's existence is its proposers' business)."""
    pot = ledger_pots.get_pot(session, slug)
    proposal = proposals.get(session, proposal_id)
    if proposal.pot_id != pot.id or not proposals.may_see(session, proposal, viewer_id):
        raise ProposalNotFound(f"{slug} has no proposal {proposal_id}")
    return pot, proposal


def describe_all(session: Session, pot: Pot, listed: Sequence[Proposal]) -> list[dict[str, Any]]:
    """The rows of a list of the pot's proposals, read together (never one by one)."""
    return reading.summaries(session, pot, listed, now=utcnow(), render=markdown.render)


def categories(session: Session, pot: Pot) -> list[str]:
    return [
        c
        for c in session.scalars(
            select(Proposal.category)
            .where(Proposal.pot_id == pot.id, proposals.PUBLIC, Proposal.category.is_not(None))
            .distinct()
            .order_by(Proposal.category)
        )
        if c
    ]


@blp.app_template_global("spending_by_category")
def spending_by_category(slug: str) -> list[CategorySpending]:
    """Money paid and set aside per category: one GROUP BY over the pot's proposals (the
    overview's cost does not grow with the ledger)."""
    holding = [s.value for s in HOLDING]
    committed = func.sum(
        case((Proposal.status.in_(holding), Proposal.amount - Proposal.paid_amount), else_=0)
    )
    with database().read() as session:
        pot = ledger_pots.get_pot(session, slug)
        rows = session.execute(
            select(Proposal.category, committed, func.sum(Proposal.paid_amount))
            .where(Proposal.pot_id == pot.id)
            .group_by(Proposal.category)
        ).all()
    spending = [CategorySpending(c, int(k or 0), int(p or 0)) for c, k, p in rows]
    return sorted(
        (s for s in spending if s.committed or s.paid),
        key=lambda s: (-(s.committed + s.paid), s.category or ""),
    )


# -- downloads ---------------------------------------------------------------------------


@blp.get("/pots/<slug>/proposals.csv")
def download_csv(slug: str) -> Response:
    return _download(slug, "csv", "text/csv")


@blp.get("/pots/<slug>/proposals.json")
def download_json(slug: str) -> Response:
    return _download(slug, "json", "application/json")


def _download(slug: str, fmt: str, mimetype: str) -> Response:
    form = ProposalFilterForm(formdata=request.args)
    db = database()
    with db.read() as session:
        pot = ledger_pots.get_pot(session, slug)  # a missing pot is a 404 page, not a file
        form.category.choices = [*form.category.choices, *categories(session, pot)]
    if not form.validate():
        return Response(
            json.dumps({"errors": form.errors}), status=400, mimetype="application/json"
        )
    status, category = form.status.data or None, form.category.data or None
    stream = _csv(db, slug, status, category) if fmt == "csv" else _json(db, slug, status, category)
    response = Response(stream, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{slug}-proposals.{fmt}"'
    return response


def _all(
    db: Database, slug: str, status: str | None, category: str | None
) -> Iterator[tuple[Pot, dict[str, Any]]]:
    with db.read() as session:
        pot = ledger_pots.get_pot(session, slug)
        after = 0
        while True:
            batch = proposals.list_proposals(
                session,
                pot,
                status=status,
                category=category,
                public_only=True,
                after_id=after,
                limit=EXPORT_BATCH,
            )
            for described in describe_all(session, pot, batch):
                del described["summary_html"]  # the Markdown itself is in "summary"
                yield pot, described
            if len(batch) < EXPORT_BATCH:
                return
            after = batch[-1].id


def _json(db: Database, slug: str, status: str | None, category: str | None) -> Iterator[str]:
    yield '{"pot": ' + json.dumps(slug) + ', "proposals": ['
    for n, (_, described) in enumerate(_all(db, slug, status, category)):
        yield ("," if n else "") + "\n" + json.dumps(described, ensure_ascii=False)
    yield "\n]}\n"


def _csv(db: Database, slug: str, status: str | None, category: str | None) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(CSV_COLUMNS)
    yield flush()
    for pot, p in _all(db, slug, status, category):
        decision = p["decision"] or {}
        writer.writerow(
            (
                p["id"],
                csv_safe(p["title"]),
                p["status"],
                csv_safe(p["category"] or ""),
                to_decimal_string(p["amount"]["amount"], pot.currency),
                pot.currency,
                csv_safe(p["payee"]["name"]),
                p["payee"]["opencollective"] or "",
                csv_safe(p["proposer"]["name"]),
                p["created_at"],
                p["opened_at"] or "",
                p["closes_at"] or "",
                p["decided_at"] or "",
                p["tally"]["approvals"],
                p["tally"]["objections"],
                p["tally"]["abstentions"],
                csv_safe(decision.get("reason", "")),
                to_decimal_string(p["funding"]["committed"]["amount"], pot.currency),
                to_decimal_string(p["funding"]["paid"]["amount"], pot.currency),
                p["rules_version"] or "",
                p["ballot"] or "",
            )
        )
        yield flush()
