"""Appending to, reading and verifying a pot's audit log (see the package docstring)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.audit.models import AuditEvent
from ledger.chain import (
    canonical_bytes,
    canonical_json_text,
    entry_hash,
    format_timestamp,
    parse_json_object,
)
from ledger.models import GENESIS_HASH, Pot
from ledger.timestamps import utcnow

EVENT_KINDS = (
    "rules_changed",
    "member_invited",
    "invitation_revoked",
    "member_joined",
    "role_changed",
    "member_removed",
    "proposal_created",
    "proposal_opened",
    "proposal_withdrawn",
    "vote_cast",
    "vote_changed",
    "proposal_decided",
    "proposal_funded",
    "proposal_payout",
    "proposal_paid",
    "proposal_payout_reversed",
    "proposal_released",
    "proposal_closed",
    "round_created",
    "round_project_submitted",
    "round_project_reviewed",
    "round_ballot_cast",
    "round_ballot_changed",
    "round_ballot_withdrawn",
    "round_pledged",
    "round_counted",
    "round_funded",
    "expense_created",
    "expense_status_changed",
)


def record(
    session: Session,
    pot: Pot,
    kind: str,
    *,
    actor: str,
    data: Mapping[str, Any] | None = None,
    proposal_id: int | None = None,
    now: datetime | None = None,
) -> AuditEvent:
    """Append an event. The caller holds the pot's lock (``ledger.journal.lock_pot``), which
    is what keeps the per-pot sequence gapless across processes."""
    if kind not in EVENT_KINDS:
        raise ValueError(f"unknown audit event kind {kind!r}")
    head = session.execute(
        select(AuditEvent.seq, AuditEvent.hash)
        .where(AuditEvent.pot_id == pot.id)
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    ).one_or_none()
    seq, prev_hash = (head.seq + 1, head.hash) if head else (1, GENESIS_HASH)
    recorded_at = format_timestamp(now or utcnow())
    details = dict(data or {})
    event = AuditEvent(
        pot_id=pot.id,
        seq=seq,
        recorded_at=recorded_at,
        kind=kind,
        actor=actor,
        proposal_id=proposal_id,
        data_json=canonical_json_text(details),
        prev_hash=prev_hash,
    )
    event.hash = entry_hash(canonical_bytes(_document(pot.slug, event, details)))
    session.add(event)
    session.flush()
    return event


def list_events(
    session: Session,
    pot: Pot,
    *,
    after: int = 0,
    limit: int = 100,
    proposal_id: int | None = None,
) -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.pot_id == pot.id, AuditEvent.seq > after)
    if proposal_id is not None:
        query = query.where(AuditEvent.proposal_id == proposal_id)
    return list(session.scalars(query.order_by(AuditEvent.seq).limit(limit)))


def verify_events(session: Session, pot: Pot) -> tuple[int, int | None]:
    """Re-hash the pot's whole log: (events checked, first bad seq or None)."""
    expected_prev = GENESIS_HASH
    count = 0
    rows = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.pot_id == pot.id)
        .order_by(AuditEvent.seq)
        .execution_options(yield_per=1000)
    )
    with rows:  # closes the (server-side, on PostgreSQL) cursor when we stop early
        for count, event in enumerate(rows, start=1):
            try:
                details = parse_json_object(event.data_json)
                recomputed = entry_hash(canonical_bytes(_document(pot.slug, event, details)))
            except (ValueError, TypeError):
                return count, event.seq
            if event.seq != count or event.prev_hash != expected_prev or event.hash != recomputed:
                return count, event.seq
            expected_prev = event.hash
    return count, None


def event_data(event: AuditEvent) -> dict[str, Any]:
    return parse_json_object(event.data_json)


def _document(pot_slug: str, event: AuditEvent, details: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "pot": pot_slug,
        "seq": event.seq,
        "recorded_at": event.recorded_at,
        "kind": event.kind,
        "actor": event.actor,
        "proposal": event.proposal_id,
        "data": dict(details),
        "prev_hash": event.prev_hash,
    }
