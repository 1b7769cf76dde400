"""From the server's shell: the first admin, a pot's first steward, and who belongs to a pot."""

from __future__ import annotations

from pathlib import Path

from people import PASSWORD, cheap_hashing, new_email

from helpers import dispose_app, make_app
from ledger import audit
from ledger.db import Database
from ledger.people import accounts
from ledger.people import membership as members
from ledger.pots import find_pot


def run(db: Database, tmp_path: Path, *args: str, stdin: str | None = None) -> tuple[int, str]:
    app = make_app(db, tmp_path)
    try:
        with cheap_hashing():
            result = app.test_cli_runner().invoke(args=list(args), input=stdin)
    finally:
        dispose_app(app)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def test_user_create_makes_an_admin_who_can_sign_in(db: Database, tmp_path: Path) -> None:
    email = new_email("admin")
    code, out = run(
        db,
        tmp_path,
        "user",
        "create",
        email,
        "--name",
        "Ada",
        "--password-stdin",
        "--admin",
        stdin=PASSWORD + "\n",
    )
    assert code == 0 and f"{email} (site admin)" in out, out
    with db.read() as session:
        user = accounts.authenticate(session, email.upper(), PASSWORD)
        assert user.is_admin and user.display_name == "Ada"
        assert PASSWORD not in user.password_hash


def test_user_create_refusals_are_one_line_and_exit_2(db: Database, tmp_path: Path) -> None:
    email = new_email()
    assert (
        run(
            db,
            tmp_path,
            "user",
            "create",
            email,
            "--name",
            "Bo",
            "--password-stdin",
            stdin=PASSWORD,
        )[0]
        == 0
    )
    for args, stdin in (
        ((email.upper(), "--name", "Bo"), PASSWORD),  # taken, in any case
        ((new_email(), "--name", "Bo"), "short"),
        ((new_email(), "--name", "Bo"), ""),
        (("not-an-email", "--name", "Bo"), PASSWORD),
        ((new_email(), "--name", "x" * 10_000), PASSWORD),
    ):
        code, out = run(db, tmp_path, "user", "create", *args, "--password-stdin", stdin=stdin)
        assert code == 2 and len(out.strip().splitlines()) == 1, out
        assert "Traceback" not in out


def test_pot_invite_and_members(db: Database, tmp_path: Path, pot_slug: str) -> None:
    email = new_email("steward")
    code, out = run(db, tmp_path, "pot", "invite", pot_slug, email, "--role", "steward")
    assert code == 0 and f"invited {email} to {pot_slug} as steward" in out, out
    token = next(line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("token"))
    code, out = run(db, tmp_path, "pot", "members", pot_slug)
    assert code == 0 and "(invited)" in out and email in out

    with cheap_hashing(), db.write() as session:
        members.accept(session, token, name="Sam Steward", password=PASSWORD)
    code, out = run(db, tmp_path, "pot", "members", pot_slug)
    assert code == 0 and "steward\tSam Steward" in out and "(invited)" not in out
    with db.read() as session:
        events = audit.list_events(session, find_pot(session, pot_slug))
        assert (events[0].kind, events[0].actor) == ("member_invited", "cli")

    for args in (
        ("invite", "no-such-pot", new_email()),
        ("invite", pot_slug, email),  # already a member
        ("invite", pot_slug, "nobody"),
        ("members", "no-such-pot"),
    ):
        code, out = run(db, tmp_path, "pot", *args)
        assert code == 2 and len(out.strip().splitlines()) == 1, (args, out)
    code, out = run(db, tmp_path, "pot", "invite", pot_slug, new_email(), "--role", "admin")
    assert code == 2 and "admin" in out
