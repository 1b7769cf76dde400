"""Who belongs to a pot, and in which role: invitations, joining, role changes and leaving.

Every change locks the pot (``ledger.journal.lock_pot``) before it reads what it decides on, and
records its event in the pot's public audit log in the same transaction. The log never holds an
email address: an invitation is named by its id, a person by their user id.

``by`` is the person making the change, or None for the operator at the command line (actor
``cli``): whoever has shell access to the server can do anything anyway.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger import audit
from ledger.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthenticated
from ledger.journal import lock_pot
from ledger.models import Pot
from ledger.people.accounts import (
    authenticate,
    check_email,
    create_user,
    email_key,
    find_user,
)
from ledger.people.models import ROLE_VALUES, Invitation, Membership, Role, User
from ledger.people.secrets import INVITATION_PREFIX, digest, new_secret
from ledger.pots import find_pot
from ledger.timestamps import utcnow

INVITATION_LIFETIME = timedelta(days=14)
CLI_ACTOR = "cli"
_INVITATION_TOKEN = re.compile(r"^cpi_[A-Za-z0-9_-]{43}$")
# Ids beyond a signed 64-bit integer name nothing (and PostgreSQL would refuse the comparison).
_MAX_ID = 2**63 - 1


class MemberNotFound(NotFound):
    title = "Member not found"


class InvitationNotFound(NotFound):
    title = "Invitation not found"


class AlreadyMember(Conflict):
    title = "Already a member"


class InvitationUsed(Conflict):
    title = "Invitation already used"


class InvitationRevoked(Conflict):
    title = "Invitation revoked"


class InvitationExpired(Conflict):
    title = "Invitation expired"


class InvitationForSomeoneElse(Forbidden):
    title = "Invitation for someone else"


class LastSteward(Conflict):
    title = "The last steward cannot go"


class Person(Protocol):
    """Whoever asks to act: a :class:`User`, or the pages' signed-in copy of one."""

    @property
    def id(self) -> int: ...

    @property
    def is_admin(self) -> bool: ...


@dataclass(frozen=True)
class IssuedInvitation:
    invitation: Invitation
    token: str  # shown once, never stored


@dataclass(frozen=True)
class Member:
    user_id: int
    display_name: str
    role: Role
    joined_at: datetime


@dataclass(frozen=True)
class Joined:
    pot: Pot
    user: User
    membership: Membership
    new_account: bool


# --- reading ---------------------------------------------------------------------------------


def role_in(session: Session, pot_id: int, user_id: int) -> Role | None:
    role = session.scalars(
        select(Membership.role).where(Membership.pot_id == pot_id, Membership.user_id == user_id)
    ).one_or_none()
    return None if role is None else Role(role)


def acting_roles(session: Session, person: Person, slug: str) -> frozenset[Role]:
    """The roles ``person`` may act in within pot ``slug``: their own there (none for an
    outsider), or every role for a site admin, who runs the service and must be able to step
    in anywhere. An admin is answered without reading the pot at all."""
    if person.is_admin:
        return frozenset(Role)
    role = role_in(session, find_pot(session, slug).id, person.id)
    return frozenset() if role is None else frozenset({role})


def may_act(session: Session, person: Person, slug: str, roles: Iterable[Role] = ()) -> bool:
    """Whether ``person`` may act in pot ``slug`` as one of ``roles`` (as any member when no
    role is named). Every role check, on the API and on the pages, is this one."""
    acting = acting_roles(session, person, slug)
    wanted = frozenset(roles)
    return not acting.isdisjoint(wanted) if wanted else bool(acting)


def membership(session: Session, pot_id: int, user_id: int) -> Membership | None:
    return session.scalars(
        select(Membership).where(Membership.pot_id == pot_id, Membership.user_id == user_id)
    ).one_or_none()


def count_members(session: Session, pot_id: int, *, role: Role | None = None) -> int:
    query = select(func.count()).select_from(Membership).where(Membership.pot_id == pot_id)
    if role is not None:
        query = query.where(Membership.role == role.value)
    return session.scalar(query) or 0


def list_members(session: Session, pot: Pot) -> list[Member]:
    rows = session.execute(
        select(Membership, User.display_name)
        .join(User, User.id == Membership.user_id)
        .where(Membership.pot_id == pot.id)
        .order_by(Membership.joined_at, Membership.id)
    )
    return [Member(m.user_id, name, Role(m.role), m.joined_at) for m, name in rows.all()]


def memberships_of(session: Session, user: User) -> list[tuple[Pot, Membership]]:
    rows = session.execute(
        select(Pot, Membership)
        .join(Membership, Membership.pot_id == Pot.id)
        .where(Membership.user_id == user.id)
        .order_by(Pot.slug)
    )
    return [(pot, joined) for pot, joined in rows.all()]


def list_invitations(session: Session, pot: Pot) -> list[Invitation]:
    return list(
        session.scalars(
            select(Invitation).where(Invitation.pot_id == pot.id).order_by(Invitation.id)
        )
    )


def invitation_state(invitation: Invitation, *, now: datetime | None = None) -> str:
    """pending, accepted, revoked or expired."""
    if invitation.accepted_at is not None:
        return "accepted"
    if invitation.revoked_at is not None:
        return "revoked"
    if (now or utcnow()) >= invitation.expires_at:
        return "expired"
    return "pending"


def check_role(role: object) -> Role:
    if not isinstance(role, str) or role not in ROLE_VALUES:
        known = ", ".join(r.value for r in Role)
        raise InvalidInput(f"{str(role)[:40]!r} is not a role; the roles are {known}")
    return Role(role)


def actor_of(by: User | None) -> str:
    return CLI_ACTOR if by is None else f"user:{by.id}"


# --- changing --------------------------------------------------------------------------------


def invite(
    session: Session,
    slug: str,
    email: str,
    role: Role | str,
    invited_by: User | None,
    *,
    now: datetime | None = None,
) -> IssuedInvitation:
    """A one-time invitation for ``email`` to join the pot as ``role``, valid for
    ``INVITATION_LIFETIME``. A new invitation replaces the same address's pending ones."""
    email = check_email(email)
    role = check_role(role)
    now = now or utcnow()
    pot = lock_pot(session, slug)
    existing = find_user(session, email)
    if existing is not None and membership(session, pot.id, existing.id) is not None:
        raise AlreadyMember(f"{email} is already a member of {slug}")
    replaced = [
        earlier
        for earlier in session.scalars(
            select(Invitation).where(
                Invitation.pot_id == pot.id,
                Invitation.email_key == email_key(email),
                Invitation.accepted_at.is_(None),
                Invitation.revoked_at.is_(None),
            )
        )
        if invitation_state(earlier, now=now) == "pending"
    ]
    for earlier in replaced:
        earlier.revoked_at = now
    token = new_secret(INVITATION_PREFIX)
    invitation = Invitation(
        pot_id=pot.id,
        email=email,
        email_key=email_key(email),
        role=role.value,
        token_hash=digest(token),
        invited_by=None if invited_by is None else invited_by.id,
        created_at=now,
        expires_at=now + INVITATION_LIFETIME,
    )
    session.add(invitation)
    session.flush()
    data: dict[str, object] = {"invitation": invitation.id, "role": role.value}
    if replaced:
        data["replaces"] = [earlier.id for earlier in replaced]
    audit.record(session, pot, "member_invited", actor=actor_of(invited_by), data=data, now=now)
    return IssuedInvitation(invitation, token)


def revoke_invitation(
    session: Session,
    slug: str,
    invitation_id: int,
    by: User | None,
    *,
    now: datetime | None = None,
) -> Invitation:
    """Withdraw a pending invitation (revoking it twice changes nothing the second time)."""
    pot = lock_pot(session, slug)
    invitation = _invitation_in(session, pot, invitation_id)
    if invitation.accepted_at is not None:
        raise InvitationUsed(f"invitation {invitation_id} was accepted: remove the member instead")
    if invitation.revoked_at is None:
        now = now or utcnow()
        invitation.revoked_at = now
        audit.record(
            session,
            pot,
            "invitation_revoked",
            actor=actor_of(by),
            data={"invitation": invitation.id},
            now=now,
        )
    return invitation


def accept(
    session: Session,
    token: str,
    *,
    user: User | None = None,
    name: str | None = None,
    password: str | None = None,
    now: datetime | None = None,
) -> Joined:
    """Join a pot with an invitation's token, once, before it expires.

    A signed-in ``user`` joins as themselves, if the invitation was sent to their email. Anyone
    else joins with the invitation's email: a new account with ``name`` and ``password``, or,
    when that email already has an account, that account once ``password`` proves it is theirs.
    """
    if not isinstance(token, str) or not _INVITATION_TOKEN.match(token):
        raise InvitationNotFound("the invitation token is not one this service gave out")
    found = session.scalars(
        select(Invitation).where(Invitation.token_hash == digest(token))
    ).one_or_none()
    if found is None:
        raise InvitationNotFound("the invitation token is not one this service gave out")
    pot = lock_pot(session, _slug_of(session, found.pot_id))
    # Read again under the lock: another request may have used it while we waited.
    invitation = session.scalars(
        select(Invitation)
        .where(Invitation.id == found.id)
        .execution_options(populate_existing=True)
    ).one()
    now = now or utcnow()
    state = invitation_state(invitation, now=now)
    if state == "accepted":
        raise InvitationUsed("this invitation has already been used")
    if state == "revoked":
        raise InvitationRevoked("this invitation was withdrawn; ask a steward for a new one")
    if state == "expired":
        raise InvitationExpired("this invitation has expired; ask a steward for a new one")

    new_account = False
    if user is not None:
        if user.email_key != invitation.email_key:
            raise InvitationForSomeoneElse(
                f"this invitation was sent to {mask_email(invitation.email)}, not to the "
                "account you are signed in with"
            )
    else:
        existing = find_user(session, invitation.email)
        if existing is not None:
            # The token proves the mailbox; the password proves the account.
            try:
                user = authenticate(session, invitation.email, password)
            except Unauthenticated:
                raise Unauthenticated(
                    f"{mask_email(invitation.email)} already has an account: sign in, or give "
                    "its password"
                ) from None
        else:
            if name is None or password is None:
                raise InvalidInput("give your name and a password to create your account")
            user = create_user(session, invitation.email, name=name, password=password)
            new_account = True
    if membership(session, pot.id, user.id) is not None:
        raise AlreadyMember(f"you are already a member of {pot.slug}")

    joined = Membership(pot_id=pot.id, user_id=user.id, role=invitation.role, joined_at=now)
    session.add(joined)
    invitation.accepted_at = now
    invitation.accepted_by = user.id
    session.flush()
    audit.record(
        session,
        pot,
        "member_joined",
        actor=actor_of(user),
        data={"user": user.id, "role": invitation.role, "invitation": invitation.id},
        now=now,
    )
    return Joined(pot, user, joined, new_account)


def change_role(
    session: Session,
    slug: str,
    user_id: int,
    role: Role | str,
    by: User | None,
    *,
    now: datetime | None = None,
) -> Membership:
    """Give a member another role; the pot's last steward cannot be demoted."""
    role = check_role(role)
    pot = lock_pot(session, slug)
    member = _member_in(session, pot, user_id)
    old = Role(member.role)
    if old == role:
        return member
    if old == Role.STEWARD:
        _keep_a_steward(session, pot, "demoted")
    member.role = role.value
    session.flush()
    audit.record(
        session,
        pot,
        "role_changed",
        actor=actor_of(by),
        data={"user": user_id, "from": old.value, "to": role.value},
        now=now,
    )
    return member


def remove(
    session: Session,
    slug: str,
    user_id: int,
    by: User | None,
    *,
    now: datetime | None = None,
) -> Role:
    """Remove a member (or, when ``by`` is that member, leave); the role they had.

    The pot's last steward can neither be removed nor leave: someone must be able to manage it.
    """
    pot = lock_pot(session, slug)
    member = _member_in(session, pot, user_id)
    old = Role(member.role)
    if old == Role.STEWARD:
        _keep_a_steward(session, pot, "removed")
    session.delete(member)
    session.flush()
    audit.record(
        session,
        pot,
        "member_removed",
        actor=actor_of(by),
        data={"user": user_id, "role": old.value, "left": by is not None and by.id == user_id},
        now=now,
    )
    return old


def mask_email(email: str) -> str:
    """``a•••@example.org``: enough for its owner to recognise, little for anyone else."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}•••@{domain}"


# --- helpers ---------------------------------------------------------------------------------


def _keep_a_steward(session: Session, pot: Pot, what: str) -> None:
    if count_members(session, pot.id, role=Role.STEWARD) <= 1:
        raise LastSteward(
            f"the last steward of {pot.slug} cannot be {what}: make another member a steward first"
        )


def _member_in(session: Session, pot: Pot, user_id: int) -> Membership:
    found = membership(session, pot.id, user_id) if 0 < user_id <= _MAX_ID else None
    if found is None:
        raise MemberNotFound(f"user {user_id} is not a member of {pot.slug}")
    return found


def _invitation_in(session: Session, pot: Pot, invitation_id: int) -> Invitation:
    found = session.get(Invitation, invitation_id) if 0 < invitation_id <= _MAX_ID else None
    if found is None or found.pot_id != pot.id:
        raise InvitationNotFound(f"{pot.slug} has no invitation {invitation_id}")
    return found


def _slug_of(session: Session, pot_id: int) -> str:
    return session.scalars(select(Pot.slug).where(Pot.id == pot_id)).one()
