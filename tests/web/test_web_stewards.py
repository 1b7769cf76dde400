"""The stewards' pages on both databases: members and roles (the last steward kept),
invitations (the link shown once), and the rules editor (errors next to their fields)."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from test_web_treasury import signed_in_as, token_of

from ledger import pots as ledger_pots
from ledger.db import Database
from ledger.governance import rulebook
from ledger.people import membership as members
from ledger.people.models import Invitation, Role


def rules_form(**fields: str) -> dict[str, str]:
    data = {
        "kind": "threshold",
        "threshold_approvals_needed": "3",
        "threshold_objections_to_reject": "2",
        "stewards_approvals_needed": "not used, ignored",
        "voting_window_hours": "168",
        "max_amount": "1500.00",
        "max_open_proposals_per_member": "2",
        "ballot": "secret",
        "late_joiners_may_vote": "y",
    }
    return data | fields


def role_of(db: Database, slug: str, user_id: int) -> Role | None:
    with db.read() as session:
        return members.role_in(session, ledger_pots.get_pot(session, slug).id, user_id)


def test_a_steward_invites_and_the_link_is_shown_once(
    app: Flask, db: Database, pot_slug: str
) -> None:
    steward = signed_in_as(app, db, pot_slug, "steward")
    page = steward.get(f"/pots/{pot_slug}/members").text
    answer = steward.post(
        f"/pots/{pot_slug}/members/invite",
        data={"csrf_token": token_of(page), "email": "sam@example.org", "role": "treasurer"},
    )
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    assert "/invitations/accept?token=cpi_" in answer.text
    token = answer.text.split("token=", 1)[1].split('"', 1)[0]
    later = steward.get(f"/pots/{pot_slug}/members").text
    assert "sam@example.org" in later and token not in later and "cpi_" not in later
    with db.write() as session:  # the link works: the invited person joins with it
        joined = members.accept(session, token, name="Sam", password="a long enough password")
        assert joined.membership.role == "treasurer"

    refused = steward.post(
        f"/pots/{pot_slug}/members/invite",
        data={"csrf_token": token_of(page), "email": "not an email", "role": "treasurer"},
    )
    assert refused.status_code == 422 and 'value="not an email"' in refused.text


def test_a_pending_invitation_is_withdrawn(app: Flask, db: Database, pot_slug: str) -> None:
    steward = signed_in_as(app, db, pot_slug, "steward")
    with db.write() as session:
        issued = members.invite(session, pot_slug, "kim@example.org", "member", None)
        invitation_id = issued.invitation.id
    page = steward.get(f"/pots/{pot_slug}/members").text
    assert "kim@example.org" in page
    done = steward.post(
        f"/pots/{pot_slug}/invitations/{invitation_id}/withdraw",
        data={"csrf_token": token_of(page)},
    )
    assert done.status_code == 302
    after = steward.get(done.headers["Location"]).text
    assert "The invitation to kim@example.org is withdrawn" in after
    assert "No invitation is waiting" in after
    with db.read() as session:
        invitation = session.scalars(select(Invitation).where(Invitation.id == invitation_id)).one()
        assert members.invitation_state(invitation) == "revoked"


def test_roles_change_and_the_last_steward_stays(app: Flask, db: Database, pot_slug: str) -> None:
    steward = signed_in_as(app, db, pot_slug, "steward")
    page = steward.get(f"/pots/{pot_slug}/members").text
    me = int(page.split('action="/pots/' + pot_slug + "/members/", 1)[1].split("/", 1)[0])
    csrf = token_of(page)
    for path in (f"{me}/remove", f"{me}/role"):
        refused = steward.post(
            f"/pots/{pot_slug}/members/{path}", data={"csrf_token": csrf, "role": "member"}
        )
        assert refused.status_code == 409
        assert "The last steward cannot go" in refused.text
        assert "make another member a steward first" in refused.text
    assert role_of(db, pot_slug, me) == Role.STEWARD

    with db.write() as session:
        issued = members.invite(session, pot_slug, "ann@example.org", "member", None)
        ann = members.accept(session, issued.token, name="Ann", password="a long enough pw").user.id
    promoted = steward.post(
        f"/pots/{pot_slug}/members/{ann}/role", data={"csrf_token": csrf, "role": "steward"}
    )
    assert promoted.status_code == 302
    assert "Ann is now a steward." in steward.get(promoted.headers["Location"]).text
    assert role_of(db, pot_slug, ann) == Role.STEWARD
    bad = steward.post(
        f"/pots/{pot_slug}/members/{ann}/role", data={"csrf_token": csrf, "role": "king"}
    )
    assert bad.status_code == 400 and "choose one of the roles" in bad.text.lower()
    removed = steward.post(f"/pots/{pot_slug}/members/{ann}/remove", data={"csrf_token": csrf})
    assert removed.status_code == 302 and role_of(db, pot_slug, ann) is None
    unknown = steward.post(f"/pots/{pot_slug}/members/{ann}/remove", data={"csrf_token": csrf})
    assert unknown.status_code == 404 and "is not a member" in unknown.text


def test_the_rules_editor_saves_a_new_version(app: Flask, db: Database, pot_slug: str) -> None:
    steward = signed_in_as(app, db, pot_slug, "steward")
    page = steward.get(f"/pots/{pot_slug}/rules/edit")
    assert page.status_code == 200 and "default rules" in page.text
    assert 'value="168"' in page.text  # the rules in force, ready to change
    saved = steward.post(
        f"/pots/{pot_slug}/rules/edit", data={"csrf_token": token_of(page.text), **rules_form()}
    )
    assert saved.status_code == 302, saved.text
    after = steward.get(saved.headers["Location"]).text
    assert "Saved: version 2 of the rules is in force" in after
    assert 'value="1500.00"' in after and "Version 2 of the rules is in force" in after
    with db.read() as session:
        rules = rulebook.rules_in_force(session, ledger_pots.get_pot(session, pot_slug)).rules
    assert rules.to_dict() == {
        "version": 2,
        "rule": {"kind": "threshold", "approvals_needed": 3, "objections_to_reject": 2},
        "voting_window_hours": 168,
        "max_amount": 150_000,
        "max_open_proposals_per_member": 2,
        "ballot": "secret",
        "late_joiners_may_vote": True,
    }


def test_rules_errors_sit_next_to_their_fields_and_keep_what_was_typed(
    app: Flask, db: Database, pot_slug: str
) -> None:
    steward = signed_in_as(app, db, pot_slug, "steward")
    csrf = token_of(steward.get(f"/pots/{pot_slug}/rules/edit").text)
    cases = [
        ({"threshold_objections_to_reject": "0"}, "threshold_objections_to_reject", "between 1"),
        ({"threshold_approvals_needed": ""}, "threshold_approvals_needed", "Is required."),
        ({"voting_window_hours": "9000"}, "voting_window_hours", "8760"),
        ({"voting_window_hours": "a week"}, "voting_window_hours", "Write a whole number"),
        ({"max_amount": "12.345"}, "max_amount", "has 3 decimal places"),
        (
            {
                "kind": "majority",
                "majority_quorum_percent": "33.3",
                "majority_approval_above_percent": "100",
            },
            "majority_approval_above_percent",
            "less than 100",
        ),
    ]
    for fields, where, message in cases:
        response = steward.post(
            f"/pots/{pot_slug}/rules/edit", data={"csrf_token": csrf, **rules_form(**fields)}
        )
        assert response.status_code == 400, fields
        error = response.text.split(f'id="{where}-error">', 1)
        assert len(error) == 2, (fields, response.text)
        assert message in error[1].split("</p>", 1)[0], (fields, error[1][:200])
        for name, value in rules_form(**fields).items():
            if name not in ("kind", "ballot", "late_joiners_may_vote"):
                assert f'value="{value}"' in response.text, (name, value)
    with db.read() as session:
        assert rulebook.history(session, ledger_pots.get_pot(session, pot_slug)) == []


def test_steward_pages_need_a_steward_and_their_forms_a_csrf_token(
    app: Flask, db: Database, pot_slug: str, client: FlaskClient
) -> None:
    for path in (f"/pots/{pot_slug}/members", f"/pots/{pot_slug}/rules/edit"):
        response = client.get(path)
        assert response.status_code == 302 and "/sign-in" in response.headers["Location"]
        for role in ("member", "treasurer"):
            refused = signed_in_as(app, db, pot_slug, role).get(path)
            assert refused.status_code == 403 and "only a steward of this pot" in refused.text
    steward = signed_in_as(app, db, pot_slug, "steward")
    with db.write() as session:
        issued = members.invite(session, pot_slug, "lee@example.org", "member", None)
    me = steward.get(f"/pots/{pot_slug}/members").text
    user_id = int(me.split('action="/pots/' + pot_slug + "/members/", 1)[1].split("/", 1)[0])
    posts = {
        f"/pots/{pot_slug}/members/invite": {"email": "x@example.org", "role": "member"},
        f"/pots/{pot_slug}/members/{user_id}/role": {"role": "member"},
        f"/pots/{pot_slug}/members/{user_id}/remove": {},
        f"/pots/{pot_slug}/invitations/{issued.invitation.id}/withdraw": {},
        f"/pots/{pot_slug}/rules/edit": rules_form(),
    }
    for path, data in posts.items():
        response = steward.post(path, data=data)
        assert response.status_code == 400, path
        assert "This form could not be accepted" in response.text, path
    with db.read() as session:
        pot = ledger_pots.get_pot(session, pot_slug)
        assert [i.email for i in members.list_invitations(session, pot)] == ["lee@example.org"]
        assert rulebook.history(session, pot) == []
