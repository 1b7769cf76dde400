"""Stored answers to retryable requests, keyed by the caller's ``Idempotency-Key``.

The API layer records, per caller and key, a fingerprint of the request and the answer it
gave; a retry with the same key and the same request gets the same answer again without
doing anything twice, and the same key with a different request is a conflict. The money
itself is protected a second time by the ledger's own idempotency keys.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ledger.models import Base, BigId
from ledger.timestamps import Timestamp

MAX_KEY = 200


class IdempotentRequest(Base):
    __tablename__ = "idempotent_requests"
    __table_args__ = (UniqueConstraint("caller", "key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # Who asked ("user:12"): keys are the caller's own, so two callers never collide.
    caller: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(MAX_KEY))
    # SHA-256 of method, path and body.
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
