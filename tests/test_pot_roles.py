"""Who may act in a pot, as the core decides it for the API and the pages alike: a member as
their own role, an outsider as nobody, a site admin as every role."""

from __future__ import annotations

import pytest
from people import joined, signed_in

from ledger.db import Database
from ledger.errors import PotNotFound
from ledger.people.membership import acting_roles, may_act
from ledger.people.models import Role, User

T, S, M = Role.TREASURER, Role.STEWARD, Role.MEMBER


def user(db: Database, user_id: int) -> User:
    with db.read() as session:
        found = session.get(User, user_id)
        assert found is not None
        return found


def test_a_member_acts_in_their_own_role_only(db: Database, pot_slug: str) -> None:
    treasurer = user(db, joined(db, pot_slug, T).user_id)
    with db.read() as session:
        assert acting_roles(session, treasurer, pot_slug) == {T}
        assert may_act(session, treasurer, pot_slug, (T,))
        assert may_act(session, treasurer, pot_slug, (S, T))
        assert may_act(session, treasurer, pot_slug)  # any member
        assert not may_act(session, treasurer, pot_slug, (S,))
        assert not may_act(session, treasurer, pot_slug, (M,))


def test_an_outsider_acts_in_no_role(db: Database, pot_slug: str) -> None:
    outsider = user(db, signed_in(db).user_id)
    with db.read() as session:
        assert acting_roles(session, outsider, pot_slug) == frozenset()
        assert not may_act(session, outsider, pot_slug)
        assert not may_act(session, outsider, pot_slug, (M, T, S))


def test_a_site_admin_acts_in_every_role_of_every_pot(db: Database, pot_slug: str) -> None:
    admin = user(db, signed_in(db, admin=True).user_id)
    with db.read() as session:
        assert acting_roles(session, admin, pot_slug) == set(Role)
        assert all(may_act(session, admin, pot_slug, (role,)) for role in Role)
        assert may_act(session, admin, pot_slug)


def test_a_pot_that_does_not_exist_is_not_found(db: Database) -> None:
    member = user(db, signed_in(db).user_id)
    with db.read() as session, pytest.raises(PotNotFound):
        may_act(session, member, "no-such-pot", (T,))
