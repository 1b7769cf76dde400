"""A pot's decision rules over time: the version in force, every earlier version, and changes.

A pot that never chose rules is governed by :data:`DEFAULT_RULES` (what Open Collective admins
do today: one steward's approval). That default becomes stored version 1 the first time
anything depends on it (a proposal opening, or a steward choosing other rules), so that every
proposal's ``rules_version`` names a stored, publicly visible version.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import audit
from ledger.chain import canonical_json_text, parse_json_object
from ledger.errors import NotFound
from ledger.governance.models import RuleVersion
from ledger.governance.rules import DecisionRules, StewardsRule
from ledger.models import Pot
from ledger.timestamps import utcnow

DEFAULT_RULES = DecisionRules(
    rule=StewardsRule(approvals_needed=1),
    voting_window=timedelta(days=7),
    max_open_proposals_per_member=3,
)


#: The version the default is stored as. :func:`change_rules` stores the default before what
#: it was given, so every version someone chose comes after it; none is ever chosen as 1.
DEFAULT_VERSION = 1


@dataclass(frozen=True)
class RulesInForce:
    rules: DecisionRules
    set_at: datetime | None  # None: the default, not stored yet
    set_by: int | None  # None: the default, or rules chosen by no user (the operator)
    chosen: bool  # False: the default, stored or not; nobody chose it


def rules_in_force(session: Session, pot: Pot) -> RulesInForce:
    latest = session.scalars(
        select(RuleVersion)
        .where(RuleVersion.pot_id == pot.id)
        .order_by(RuleVersion.version.desc())
        .limit(1)
    ).one_or_none()
    if latest is None:
        return RulesInForce(DEFAULT_RULES, None, None, chosen=False)
    return _in_force(latest)


def rules_version(session: Session, pot: Pot, version: int) -> DecisionRules:
    return rules_versions(session, pot, {version})[version]


def rules_versions(
    session: Session, pot: Pot, versions: Collection[int]
) -> dict[int, DecisionRules]:
    """Several versions of the pot's rules by number, in one query (for a list of proposals)."""
    if not versions:
        return {}
    rows = session.scalars(
        select(RuleVersion).where(RuleVersion.pot_id == pot.id, RuleVersion.version.in_(versions))
    )
    found = {row.version: _in_force(row).rules for row in rows}
    missing = sorted(set(versions) - found.keys())
    if missing:
        raise NotFound(f"{pot.slug} has no rules version {missing[0]}")
    return found


def history(session: Session, pot: Pot) -> list[RulesInForce]:
    rows = session.scalars(
        select(RuleVersion).where(RuleVersion.pot_id == pot.id).order_by(RuleVersion.version)
    )
    return [_in_force(row) for row in rows]


def stored_rules_in_force(
    session: Session, pot: Pot, *, now: datetime | None = None
) -> DecisionRules:
    """The rules in force, storing the default as version 1 if nothing was stored yet.
    The caller holds the pot's lock."""
    current = rules_in_force(session, pot)
    if current.set_at is None:
        _store(session, pot, DEFAULT_RULES, set_by=None, actor="system", now=now)
    return current.rules


def change_rules(
    session: Session, pot: Pot, data: object, *, user_id: int | None, actor: str
) -> DecisionRules:
    """Store ``data`` (the JSON form, see DecisionRules.from_dict) as the next version.
    The caller holds the pot's lock; raises InvalidRules naming the bad field."""
    if isinstance(data, dict):
        data = {k: v for k, v in data.items() if k != "version"}  # numbering is ours
    rules = DecisionRules.from_dict(data)
    stored_rules_in_force(session, pot)
    return _store(session, pot, rules, set_by=user_id, actor=actor)


def _store(
    session: Session,
    pot: Pot,
    rules: DecisionRules,
    *,
    set_by: int | None,
    actor: str,
    now: datetime | None = None,
) -> DecisionRules:
    latest = session.scalar(
        select(RuleVersion.version)
        .where(RuleVersion.pot_id == pot.id)
        .order_by(RuleVersion.version.desc())
        .limit(1)
    )
    numbered = rules.with_version((latest or 0) + 1)
    moment = now or utcnow()
    session.add(
        RuleVersion(
            pot_id=pot.id,
            version=numbered.version,
            rules_json=canonical_json_text(numbered.to_dict()),
            set_by=set_by,
            set_at=moment,
        )
    )
    audit.record(session, pot, "rules_changed", actor=actor, data=numbered.to_dict(), now=moment)
    return numbered


def _in_force(row: RuleVersion) -> RulesInForce:
    return RulesInForce(
        DecisionRules.from_dict(parse_json_object(row.rules_json)),
        row.set_at,
        row.set_by,
        # Not set_by: rules chosen by no user (the operator, say) were still chosen.
        chosen=row.version != DEFAULT_VERSION,
    )
