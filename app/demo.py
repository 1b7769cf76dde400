"""Demo data: a UK network of practitioners holding a shared fund in GBP.

Idempotent: every movement carries an idempotency key, so loading twice changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from ledger import operations
from ledger import pots as ledger_pots
from ledger.errors import PotNotFound

DEMO_SLUG = "civic-practice-fund"
DEMO_NAME = "Civic Practice Network: Shared Fund"


@dataclass(frozen=True)
class Movement:
    key: str
    when: str
    kind: str
    pence: int
    memo: str
    commitment: str | None = None


MOVEMENTS: tuple[Movement, ...] = (
    Movement(
        "demo-001",
        "2026-01-06T09:12:00",
        "contribution",
        500_000,
        "Founding grant from the Lankelly Foundation",
    ),
    Movement(
        "demo-002",
        "2026-01-14T18:40:00",
        "contribution",
        12_000,
        "Monthly membership: Leeds Practice Circle",
    ),
    Movement("demo-003", "2026-01-14T18:41:00", "fee", 600, "Host fee on membership (5%)"),
    Movement(
        "demo-004",
        "2026-02-02T10:05:00",
        "contribution",
        25_000,
        "Donation: Hackney council service-design team",
    ),
    Movement(
        "demo-005",
        "2026-02-10T11:30:00",
        "allocation",
        45_000,
        "Allocated: community research fellowships, spring cohort",
        "proposal:spring-fellows",
    ),
    Movement(
        "demo-006",
        "2026-02-21T16:00:00",
        "payout",
        18_500,
        "Venue and catering, Manchester gathering",
    ),
    Movement(
        "demo-007",
        "2026-03-03T09:00:00",
        "payout",
        22_500,
        "Fellowship stipend: Amara Okafor",
        "proposal:spring-fellows",
    ),
    Movement(
        "demo-008",
        "2026-03-14T18:40:00",
        "contribution",
        12_000,
        "Monthly membership: Leeds Practice Circle",
    ),
    Movement(
        "demo-009",
        "2026-03-20T13:15:00",
        "payout",
        7_950,
        "Accessibility: BSL interpretation for the open call",
    ),
    Movement(
        "demo-010",
        "2026-04-01T09:00:00",
        "payout",
        22_500,
        "Fellowship stipend: Rhys Llewellyn",
        "proposal:spring-fellows",
    ),
)


def load_demo(session: Session) -> int:
    """Create the demo pot and its history; returns how many entries were newly written."""
    try:
        ledger_pots.get_pot(session, DEMO_SLUG)
    except PotNotFound:
        ledger_pots.create_pot(session, DEMO_SLUG, name=DEMO_NAME, currency="GBP")
    written = 0
    for move in MOVEMENTS:
        result = operations.record(
            session,
            DEMO_SLUG,
            move.kind,
            move.pence,
            memo=move.memo,
            actor="demo",
            idempotency_key=move.key,
            commitment=move.commitment,
            now=datetime.fromisoformat(move.when).replace(tzinfo=UTC),
        )
        written += result.created
    return written
