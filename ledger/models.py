"""Typed SQLAlchemy models of the money core.

Tables are created only by the Alembic migrations in ``migrations/``; these classes describe them.
``ledger_entries`` and ``ledger_postings`` are append-only: database triggers refuse UPDATE,
DELETE and TRUNCATE on them. ``ledger_balances`` and the head columns of ``pots`` are maintained
caches, updated in the same transaction as each entry and checked by ``verify``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Stable constraint names, so migrations can refer to them on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit key.
BigId = BigInteger().with_variant(Integer, "sqlite")

GENESIS_HASH = "0" * 64
MAX_SEQ = 2**63 - 1  # sequence numbers are 64-bit signed integers in the database


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Pot(Base):
    __tablename__ = "pots"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The chain head, maintained with every append (checked by verify).
    head_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    head_hash: Mapped[str] = mapped_column(String(64), default=GENESIS_HASH)


class Entry(Base):
    __tablename__ = "ledger_entries"
    __table_args__ = (
        UniqueConstraint("pot_id", "seq"),
        # Unique where set: most entries have none of these, and a partial index spends no
        # work on them (migration 0008).
        *(
            Index(
                f"uq_ledger_entries_pot_id_{column}",
                "pot_id",
                column,
                unique=True,
                sqlite_where=text(f"{column} IS NOT NULL"),
                postgresql_where=text(f"{column} IS NOT NULL"),
            )
            for column in ("external_ref", "idempotency_key", "reverses_seq")
        ),
        CheckConstraint("seq >= 1", name="seq_positive"),
        Index("ix_ledger_entries_pot_kind_seq", "pot_id", "kind", "seq"),
        Index("ix_ledger_entries_pot_recorded_at", "pot_id", "recorded_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    pot_id: Mapped[int] = mapped_column(ForeignKey("pots.id", ondelete="RESTRICT"))
    seq: Mapped[int] = mapped_column(BigInteger)
    # RFC 3339 UTC with microseconds, fixed width ("2026-11-23T10:15:00.000000Z"): stored as the
    # exact string that was hashed, so no database's datetime handling can change it.
    recorded_at: Mapped[str] = mapped_column(String(27))
    kind: Mapped[str] = mapped_column(String(32))
    memo: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(200))
    external_ref: Mapped[str | None] = mapped_column(String(200))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    reverses_seq: Mapped[int | None] = mapped_column(BigInteger)
    # Canonical JSON (RFC 8785) of the entry's structured references, e.g. a proposal id.
    data_json: Mapped[str] = mapped_column(Text, default="{}")
    # SHA-256 of the request's content, to tell a retry from a conflicting reuse of a key.
    fingerprint: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    # Not a unique column: the hash covers (pot, seq), which are unique together (see 0008).
    hash: Mapped[str] = mapped_column(String(64))
    # The entry's Merkle leaf hash, SHA-256(0x00 || canonical bytes): level 0 of the pot's tree,
    # kept here rather than as a row of ledger_merkle_nodes (one row less per append). Empty for
    # entries recorded before migration 0009, whose leaves are level-0 rows of that table.
    leaf_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32))

    postings: Mapped[list[Posting]] = relationship(
        back_populates="entry", order_by="Posting.position", lazy="selectin"
    )


class Posting(Base):
    __tablename__ = "ledger_postings"
    __table_args__ = (
        UniqueConstraint("entry_id", "position"),
        CheckConstraint("amount <> 0", name="amount_nonzero"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entries.id", ondelete="RESTRICT"))
    position: Mapped[int] = mapped_column(SmallInteger)
    account: Mapped[str] = mapped_column(String(100))
    amount: Mapped[int] = mapped_column(BigInteger)  # minor units; debit > 0, credit < 0
    currency: Mapped[str] = mapped_column(String(3))

    entry: Mapped[Entry] = relationship(back_populates="postings")


class MerkleNode(Base):
    """A complete perfect subtree of a pot's RFC 9162 Merkle tree over its entries.

    Node (level L, index i) covers entries with seq in [i*2^L + 1, (i+1)*2^L]. Stored from level
    4 up (``ledger.tree.LOWEST_STORED``): level 0, the leaf hashes, lives on the entries
    (``Entry.leaf_hash``), and the levels between are computed from them when read. Earlier
    revisions stored those too (rows that stay, unread), and the leaves of entries recorded
    before migration 0009. Written once when its last leaf arrives, never changed (append-only),
    so proofs need O(log n) reads and an append stores about one row per eight entries.
    """

    __tablename__ = "ledger_merkle_nodes"

    pot_id: Mapped[int] = mapped_column(ForeignKey("pots.id"), primary_key=True)
    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class Balance(Base):
    """The maintained balance of one account, so reading a pot never scans its entries."""

    __tablename__ = "ledger_balances"
    __table_args__ = (CheckConstraint("NOT non_negative OR amount >= 0", name="non_negative"),)

    pot_id: Mapped[int] = mapped_column(ForeignKey("pots.id"), primary_key=True)
    account: Mapped[str] = mapped_column(String(100), primary_key=True)
    amount: Mapped[int] = mapped_column(BigInteger, default=0)
    non_negative: Mapped[bool] = mapped_column(Boolean)
