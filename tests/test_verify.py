"""`verify` recomputes everything and names the first entry that was tampered with."""

from pathlib import Path

import pytest

from helpers import invoke_cli
from ledger import operations
from ledger import pots as ledger_pots
from ledger.db import Database
from ledger.verify import verify_pot
from tamper import execute, triggers_dropped

SLUG = "tampered"


def seed(db: Database, entries: int = 5) -> None:
    with db.write() as session:
        ledger_pots.create_pot(session, SLUG, name="T", currency="GBP")
        ledger_pots.create_pot(session, "bystander", name="B", currency="EUR")
        for i in range(entries):
            operations.record(session, SLUG, "contribution", 1_000 + i, memo=f"c{i}", actor="t")
        operations.record(session, SLUG, "payout", 500, memo="p", actor="t")
        operations.record(session, "bystander", "contribution", 42, memo="b", actor="t")


def report(db: Database) -> tuple[bool, int | None, list[str]]:
    with db.read() as session:
        result = verify_pot(session, ledger_pots.get_pot(session, SLUG))
    return result.ok, result.first_bad_seq, result.problems


ENTRY_3 = (
    "(SELECT e.id FROM ledger_entries e JOIN pots p ON p.id = e.pot_id "
    "WHERE p.slug = 'tampered' AND e.seq = 3)"
)

TAMPERINGS: dict[str, tuple[str, int | None]] = {
    "memo rewritten": (f"UPDATE ledger_entries SET memo = 'x' WHERE id = {ENTRY_3}", 3),
    "time moved": (
        f"UPDATE ledger_entries SET recorded_at = '2020-01-01T00:00:00.000000Z' "
        f"WHERE id = {ENTRY_3}",
        3,
    ),
    "posting doubled": (
        f"UPDATE ledger_postings SET amount = amount * 2 WHERE entry_id = {ENTRY_3}",
        3,
    ),
    "posting moved to another account": (
        f"UPDATE ledger_postings SET account = 'fees' WHERE entry_id = {ENTRY_3} "
        "AND account = 'available'",
        3,
    ),
    "entry deleted": (
        f"DELETE FROM ledger_postings WHERE entry_id = {ENTRY_3}; "
        f"DELETE FROM ledger_entries WHERE id = {ENTRY_3}",
        3,
    ),
    "hash replaced": (f"UPDATE ledger_entries SET hash = repeat('a', 64) WHERE id = {ENTRY_3}", 3),
    "maintained balance edited": (
        "UPDATE ledger_balances SET amount = amount + 1 WHERE account = 'available' "
        "AND pot_id = (SELECT id FROM pots WHERE slug = 'tampered')",
        None,
    ),
}


@pytest.mark.parametrize("tampering", list(TAMPERINGS))
def test_tampering_is_found_and_named(fresh_db: Database, tampering: str) -> None:
    seed(fresh_db)
    assert report(fresh_db)[0]
    sql, bad_seq = TAMPERINGS[tampering]
    if fresh_db.dialect == "sqlite":
        sql = sql.replace("repeat('a', 64)", "'" + "a" * 64 + "'")
    with triggers_dropped(fresh_db):
        for statement in sql.split("; "):
            execute(fresh_db, statement)
    ok, first_bad, problems = report(fresh_db)
    assert not ok, problems
    assert first_bad == bad_seq, problems


def run_verify(db: Database, tmp_path: Path, *args: str) -> tuple[int, str]:
    return invoke_cli(db, tmp_path, "ledger", "verify", *args)


def test_cli_verify_names_the_altered_entry(fresh_db: Database, tmp_path: Path) -> None:
    seed(fresh_db)
    code, output = run_verify(fresh_db, tmp_path)
    assert code == 0, output
    assert output.strip() == (
        "ok: 2 pot(s), 7 entries and 0 audit events, every hash and balance verified"
    )
    with triggers_dropped(fresh_db):
        execute(fresh_db, TAMPERINGS["posting doubled"][0])
    code, output = run_verify(fresh_db, tmp_path)
    assert code == 1
    assert "FAILED tampered at entry #3" in output
    code, output = run_verify(fresh_db, tmp_path, "bystander")
    assert code == 0, output


def test_chain_head_must_match(fresh_db: Database) -> None:
    seed(fresh_db)
    execute(fresh_db, "UPDATE pots SET head_seq = head_seq - 1 WHERE slug = 'tampered'")
    ok, _, problems = report(fresh_db)
    assert not ok and "head" in problems[0]
