"""The membership services write the audit log as the rules say: one event per change, in the
same transaction, a chain that verifies; and the database refuses to rewrite the log."""

from __future__ import annotations

from datetime import timedelta

import pytest
from people import cheap_hashing, joined, new_email
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ledger import audit
from ledger.db import Database
from ledger.errors import InvalidInput
from ledger.people import membership as members
from ledger.people.models import Role
from ledger.pots import create_pot, find_pot
from ledger.timestamps import utcnow
from tamper import execute

NEW_PASSWORD = "a long enough password"


def log_of(db: Database, slug: str) -> list[tuple[str, str, dict]]:
    with db.read() as session:
        pot = find_pot(session, slug)
        return [(e.kind, e.actor, audit.event_data(e)) for e in audit.list_events(session, pot)]


def verified(db: Database, slug: str) -> tuple[int, int | None]:
    with db.read() as session:
        return audit.verify_events(session, find_pot(session, slug))


def test_a_pot_lifetime_of_membership_verifies(db: Database, pot_slug: str) -> None:
    with db.write() as session:
        first = members.invite(session, pot_slug, new_email(), Role.STEWARD, None)
    with cheap_hashing(), db.write() as session:
        steward = members.accept(session, first.token, name="Sam", password=NEW_PASSWORD).user
    with db.write() as session:
        second = members.invite(session, pot_slug, new_email(), "member", steward)
    with cheap_hashing(), db.write() as session:
        ada = members.accept(session, second.token, name="Ada", password=NEW_PASSWORD).user
    with db.write() as session:
        members.change_role(session, pot_slug, ada.id, Role.STEWARD, steward)
        members.change_role(session, pot_slug, steward.id, "member", ada)
        members.remove(session, pot_slug, steward.id, steward)
        third = members.invite(session, pot_slug, new_email(), "treasurer", ada)
        members.revoke_invitation(session, pot_slug, third.invitation.id, ada)

    assert [(kind, actor) for kind, actor, _ in log_of(db, pot_slug)] == [
        ("member_invited", "cli"),
        ("member_joined", f"user:{steward.id}"),
        ("member_invited", f"user:{steward.id}"),
        ("member_joined", f"user:{ada.id}"),
        ("role_changed", f"user:{steward.id}"),
        ("role_changed", f"user:{ada.id}"),
        ("member_removed", f"user:{steward.id}"),
        ("member_invited", f"user:{ada.id}"),
        ("invitation_revoked", f"user:{ada.id}"),
    ]
    assert verified(db, pot_slug) == (9, None)
    assert "@" not in str(log_of(db, pot_slug))


def test_a_refused_change_writes_nothing(db: Database, pot_slug: str) -> None:
    steward = joined(db, pot_slug, "steward")
    before = log_of(db, pot_slug)
    with pytest.raises(members.LastSteward), db.write() as session:
        members.remove(session, pot_slug, steward.user_id, None)
    with pytest.raises(InvalidInput), db.write() as session:
        members.invite(session, pot_slug, new_email(), "admin", None)
    with pytest.raises(InvalidInput), db.write() as session:
        members.invite(session, pot_slug, "x" * 300 + "@example.org", "member", None)
    with pytest.raises(members.AlreadyMember), db.write() as session:
        members.invite(session, pot_slug, steward.email.upper(), "member", None)
    with pytest.raises(members.MemberNotFound), db.write() as session:
        members.change_role(session, pot_slug, 2**64, "member", None)
    assert log_of(db, pot_slug) == before


def test_expiry_is_fourteen_days(db: Database, pot_slug: str) -> None:
    now = utcnow()
    with db.write() as session:
        issued = members.invite(session, pot_slug, new_email(), "member", None, now=now)
    assert issued.invitation.expires_at - issued.invitation.created_at == timedelta(days=14)
    with db.read() as session:
        invitation = issued.invitation
        assert members.invitation_state(invitation, now=now + timedelta(days=13)) == "pending"
        assert members.invitation_state(invitation, now=now + timedelta(days=14)) == "expired"
    with pytest.raises(members.InvitationExpired), db.write() as session:
        members.accept(
            session,
            issued.token,
            name="Late",
            password=NEW_PASSWORD,
            now=now + timedelta(days=14, seconds=1),
        )


def test_malformed_invitation_tokens_find_nothing(db: Database) -> None:
    for token in ("", "cpi_", "cpi_" + "A" * 44, "cp_" + "A" * 43, "cpi_" + "\x00" * 43, None, 5):
        with pytest.raises(members.InvitationNotFound), db.write() as session:
            members.accept(session, token, name="X", password=NEW_PASSWORD)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_events SET actor = 'user:1' WHERE pot_id = :pot",
        "DELETE FROM audit_events WHERE pot_id = :pot",
        "UPDATE governance_rule_versions SET rules_json = '{}' WHERE pot_id = :pot",
        "DELETE FROM governance_rule_versions WHERE pot_id = :pot",
    ],
)
def test_raw_update_and_delete_of_the_log_and_rules_are_refused(
    db: Database, pot_slug: str, sql: str
) -> None:
    joined(db, pot_slug, "steward")  # two events
    with db.read() as session:
        pot = find_pot(session, pot_slug)
    execute(
        db,
        "INSERT INTO governance_rule_versions (pot_id, version, rules_json, set_at) "
        "VALUES (:pot, 1, '{\"rule\": \"stewards\"}', '2026-11-23T10:00:00.000000Z')",
        pot=pot.id,
    )
    with pytest.raises(DBAPIError, match="append-only"):
        execute(db, sql, pot=pot.id)
    assert verified(db, pot_slug) == (2, None)
    with db.engine.connect() as conn:
        rules = conn.execute(
            text("SELECT rules_json FROM governance_rule_versions WHERE pot_id = :pot"),
            {"pot": pot.id},
        ).scalar_one()
    assert rules == '{"rule": "stewards"}'


@pytest.mark.parametrize("table", ["audit_events", "governance_rule_versions"])
def test_truncate_of_the_log_is_refused_on_postgresql(db: Database, table: str) -> None:
    if db.dialect != "postgresql":
        pytest.skip("TRUNCATE exists only on PostgreSQL")
    with pytest.raises(DBAPIError, match="append-only"):
        execute(db, f"TRUNCATE {table} CASCADE")


def test_verify_finds_an_edited_event(fresh_db: Database) -> None:
    """Someone with the database drops the trigger and edits an event: verify names it."""
    slug = "audited"
    with fresh_db.write() as session:
        create_pot(session, slug, name="Audited", currency="GBP")
    joined(fresh_db, slug, "steward")
    joined(fresh_db, slug, "member")
    if fresh_db.dialect == "postgresql":
        execute(fresh_db, "ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only")
    else:
        execute(fresh_db, "DROP TRIGGER audit_events_no_update")
    execute(
        fresh_db,
        "UPDATE audit_events SET data_json = replace(data_json, 'member', 'steward') WHERE seq = 3",
    )
    assert verified(fresh_db, slug) == (3, 3)
