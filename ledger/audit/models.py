"""The audit log's table (made by migration 0005): append-only, hash-chained per pot."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ledger.models import Base, BigId


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        UniqueConstraint("pot_id", "seq"),
        CheckConstraint("seq >= 1", name="seq_positive"),
        Index("ix_audit_events_proposal_id", "proposal_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    pot_id: Mapped[int] = mapped_column(ForeignKey("pots.id", ondelete="RESTRICT"))
    seq: Mapped[int] = mapped_column(BigInteger)
    # The exact string that was hashed (see ledger.chain.format_timestamp).
    recorded_at: Mapped[str] = mapped_column(String(27))
    kind: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(200))
    proposal_id: Mapped[int | None] = mapped_column(BigInteger)
    # Canonical JSON (RFC 8785) of the event's details.
    data_json: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
