"""Users, API tokens, memberships and invitations (tables made by migration 0005)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ledger.models import Base, BigId
from ledger.timestamps import Timestamp

MAX_EMAIL = 254
MAX_NAME = 200


class Role(StrEnum):
    """A member's role in one pot. Every role may propose and vote; treasurers also move
    money and reconcile; stewards also manage members and the pot's rules."""

    MEMBER = "member"
    TREASURER = "treasurer"
    STEWARD = "steward"


ROLE_VALUES = tuple(role.value for role in Role)
_ROLE_CHECK = "role IN ('member', 'treasurer', 'steward')"


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    email: Mapped[str] = mapped_column(String(MAX_EMAIL))
    # Lower-cased email: what makes an email unique, whatever case people type it in.
    email_key: Mapped[str] = mapped_column(String(MAX_EMAIL), unique=True)
    display_name: Mapped[str] = mapped_column(String(MAX_NAME))
    password_hash: Mapped[str] = mapped_column(Text)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(Timestamp)


class ApiToken(Base):
    """A bearer token; only its SHA-256 digest is stored, the token is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters of the token, so a person can tell their tokens apart.
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    last_used_at: Mapped[datetime | None] = mapped_column(Timestamp)
    revoked_at: Mapped[datetime | None] = mapped_column(Timestamp)


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("pot_id", "user_id"),
        CheckConstraint(_ROLE_CHECK, name="role_known"),
        Index("ix_memberships_user_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    pot_id: Mapped[int] = mapped_column(ForeignKey("pots.id", ondelete="RESTRICT"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    role: Mapped[str] = mapped_column(String(16))
    joined_at: Mapped[datetime] = mapped_column(Timestamp)


class Invitation(Base):
    """An invitation to join a pot with a role; the one-time token is stored as a digest."""

    __tablename__ = "invitations"
    __table_args__ = (
        CheckConstraint(_ROLE_CHECK, name="role_known"),
        Index("ix_invitations_pot_id_email_key", "pot_id", "email_key"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    pot_id: Mapped[int] = mapped_column(ForeignKey("pots.id", ondelete="RESTRICT"))
    email: Mapped[str] = mapped_column(String(MAX_EMAIL))
    email_key: Mapped[str] = mapped_column(String(MAX_EMAIL))
    role: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    expires_at: Mapped[datetime] = mapped_column(Timestamp)
    accepted_at: Mapped[datetime | None] = mapped_column(Timestamp)
    accepted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    revoked_at: Mapped[datetime | None] = mapped_column(Timestamp)
