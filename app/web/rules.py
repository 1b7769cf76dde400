"""A pot's decision rules in plain words (the wording of docs/decision-rules.md), and every
earlier version of them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, render_template
from sqlalchemy import select

from app.extensions import database
from app.web.proposals import PotView
from ledger import pots as ledger_pots
from ledger.governance import rulebook
from ledger.governance.rules import (
    Ballot,
    ConsentRule,
    DecisionRules,
    MajorityRule,
    StewardsRule,
    ThresholdRule,
    format_percent,
)
from ledger.money import format_money
from ledger.people.models import User

blp = Blueprint("rules", __name__)

LOCALE = "en_GB"


@dataclass(frozen=True)
class RulesInWords:
    version: int | None  # None: the default, not stored yet
    chosen: bool  # False: the default, stored or not
    name: str  # "Threshold: approved as soon as 3 members approve, unless 2 object"
    rule: list[str]  # how a proposal is decided
    settings: list[tuple[str, str]]  # (setting, its value in words)
    set_at: datetime | None
    set_by: str | None


@blp.get("/pots/<slug>/rules")
def rules(slug: str) -> str:
    with database().read() as session:
        pot = ledger_pots.get_pot(session, slug)
        current = rulebook.rules_in_force(session, pot)
        versions = rulebook.history(session, pot)
        setters = {v.set_by for v in versions if v.set_by is not None}
        names: dict[int, str] = dict(
            session.execute(select(User.id, User.display_name).where(User.id.in_(setters))).all()
        )
        view = PotView.of(pot)

    def words(found: rulebook.RulesInForce, stored: bool) -> RulesInWords:
        return in_words(
            found.rules,
            view.currency,
            version=found.rules.version if stored else None,
            chosen=found.chosen,
            set_at=found.set_at,
            set_by=names.get(found.set_by) if found.set_by is not None else None,
        )

    return render_template(
        "proposals/rules.html",
        pot=view,
        in_force=words(current, current.set_at is not None),
        history=[words(v, True) for v in reversed(versions)],
    )


def in_words(
    rules: DecisionRules,
    currency: str,
    *,
    version: int | None,
    chosen: bool,
    set_at: datetime | None,
    set_by: str | None,
) -> RulesInWords:
    name, how = _rule_in_words(rules)
    days, hours = divmod(rules.voting_window_hours, 24)
    window = f"{rules.voting_window_hours} hours"
    if days and not hours:
        window += f" ({days} day{'s' if days != 1 else ''})"
    settings = [
        ("Voting window", window + ", from when a proposal opens to its deadline"),
        (
            "Maximum amount per proposal",
            format_money(rules.max_amount, currency, locale=LOCALE)
            if rules.max_amount
            else "no maximum beyond the pot's free money",
        ),
        ("Maximum open proposals per member", str(rules.max_open_proposals_per_member)),
        (
            "Ballot",
            "secret: the counts are public, but who voted how is visible to no one, not "
            "even the stewards"
            if rules.ballot is Ballot.SECRET
            else "open: everyone sees who voted how",
        ),
        (
            "Late joiners may vote",
            "yes: new members can vote on proposals that are already open"
            if rules.late_joiners_may_vote
            else "no: a member who joined after a proposal opened cannot vote on it",
        ),
    ]
    return RulesInWords(version, chosen, name, how, settings, set_at, set_by)


def _rule_in_words(rules: DecisionRules) -> tuple[str, list[str]]:
    rule = rules.rule
    if isinstance(rule, StewardsRule):
        k = rule.approvals_needed
        return (
            f"Stewards: approved when {_n(k, 'steward')} {_verb(k, 'approve')}",
            [
                f"As soon as {_n(k, 'steward')} have approved, the proposal is approved. Other "
                "members may still vote to show their view, but only steward approvals count.",
                f"If the deadline arrives before {_n(k, 'steward')} have approved, the proposal "
                "expires.",
            ],
        )
    if isinstance(rule, ThresholdRule):
        n, m = rule.approvals_needed, rule.objections_to_reject
        return (
            f"Threshold: approved as soon as {_n(n, 'member')} {_verb(n, 'approve')}, "
            f"unless {m} {_verb(m, 'object')}",
            [
                f"As soon as {_n(n, 'member')} {_verb(n, 'approve')} while fewer than {m} have "
                "objected, the proposal is approved, even if the deadline is days away.",
                f"As soon as {_n(m, 'member')} {_verb(m, 'object')}, the proposal is rejected, "
                "whatever the number of approvals.",
                f"If the deadline arrives with fewer than {n} approvals (and fewer than {m} "
                "objections), the proposal expires.",
                "Abstaining changes nothing under this rule.",
            ],
        )
    if isinstance(rule, ConsentRule):
        p = rule.min_participants
        return (
            "Consent: approved at the deadline if nobody blocked",
            [
                "Consent decides only at the deadline, never before. An objection is called a "
                "block.",
                "If anyone is blocking, the proposal is rejected.",
                f"Otherwise, if at least {_n(p, 'member')} took part (abstaining counts as "
                "taking part), it is approved; otherwise it expires."
                if p
                else "Otherwise it is approved, even if nobody voted: silence is consent.",
            ],
        )
    assert isinstance(rule, MajorityRule)
    q, x = format_percent(rule.quorum_percent), format_percent(rule.approval_above_percent)
    return (
        f"Majority: at the deadline, at least {q}% voted and more than {x}% said yes",
        [
            "Majority decides only at the deadline.",
            f"Quorum: everyone who voted, abstentions included, must be at least {q}% of the "
            "members who may vote on the proposal; if not, it expires.",
            f"Majority: counting only approvals and objections, if approvals are more than "
            f"{x}% of those, the proposal is approved; otherwise it is rejected. Exactly {x}% "
            "is not more.",
        ],
    )


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _verb(count: int, verb: str) -> str:
    return verb + ("s" if count == 1 else "")
