"""Who belongs to a pot, and in which role."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.people.models import Membership, Role


def role_in(session: Session, pot_id: int, user_id: int) -> Role | None:
    role = session.scalars(
        select(Membership.role).where(Membership.pot_id == pot_id, Membership.user_id == user_id)
    ).one_or_none()
    return None if role is None else Role(role)


def membership(session: Session, pot_id: int, user_id: int) -> Membership | None:
    return session.scalars(
        select(Membership).where(Membership.pot_id == pot_id, Membership.user_id == user_id)
    ).one_or_none()


def count_members(session: Session, pot_id: int, *, role: Role | None = None) -> int:
    query = select(func.count()).select_from(Membership).where(Membership.pot_id == pot_id)
    if role is not None:
        query = query.where(Membership.role == role.value)
    return session.scalar(query) or 0
