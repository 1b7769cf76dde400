"""The treasurer's commands, through the same CLI a person types."""

import csv
import io
import json
from pathlib import Path

import pytest

from helpers import invoke_cli
from ledger import pots as ledger_pots
from ledger.db import Database


@pytest.fixture
def cli(fresh_db: Database, tmp_path: Path):  # type: ignore[no-untyped-def]
    def run(*args: str) -> tuple[int, str]:
        return invoke_cli(fresh_db, tmp_path, *args)

    return run


def entries_of(db: Database, slug: str) -> int:
    with db.read() as session:
        return ledger_pots.get_pot(session, slug).head_seq


def test_a_treasurers_day(cli, fresh_db: Database) -> None:  # type: ignore[no-untyped-def]
    assert cli("pot", "create", "leeds", "--name", "Leeds Circle", "--currency", "GBP") == (
        0,
        "created pot leeds (GBP)\n",
    )
    code, out = cli("ledger", "record", "leeds", "contribution", "250.00", "--memo", "Grant")
    assert code == 0 and out.startswith("recorded: #1 contribution 250.00 GBP "), out
    code, out = cli("ledger", "record", "leeds", "payout", "75.5", "--memo", "Venue hire")
    assert code == 0 and "#2 payout 75.50 GBP" in out
    code, out = cli("ledger", "reverse", "leeds", "2", "--memo", "Venue refunded the deposit")
    assert code == 0 and out.startswith("reversed #2 with #3"), out
    code, out = cli("ledger", "verify", "leeds")
    assert code == 0 and "3 entries" in out
    code, out = cli("pot", "list")
    assert "leeds\tGBP\theld 250.00\t3 entries" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("contribution", "250.001"), "3 decimal places but GBP has 2"),
        (("contribution", "-5"), "not a positive decimal amount"),
        (("contribution", "0"), "greater than zero"),
        (("contribution", "abc"), "not a positive decimal amount"),
        (("payout", "1.00"), "Insufficient funds"),
    ],
)
def test_refusals_are_one_line_exit_2_and_write_nothing(  # type: ignore[no-untyped-def]
    cli, fresh_db: Database, args: tuple[str, str], message: str
) -> None:
    cli("pot", "create", "p", "--name", "P", "--currency", "GBP")
    code, out = cli("ledger", "record", "p", *args, "--memo", "m")
    assert code == 2
    assert message in out and len(out.strip().splitlines()) == 1, out
    assert entries_of(fresh_db, "p") == 0


def test_unknown_pot_and_currency(cli) -> None:  # type: ignore[no-untyped-def]
    code, out = cli("ledger", "record", "ghost", "contribution", "1", "--memo", "m")
    assert code == 2 and "no pot called 'ghost'" in out
    code, out = cli("pot", "create", "x", "--name", "X", "--currency", "ABC")
    assert code == 2 and "not an ISO 4217 currency" in out


def test_jpy_amounts_have_no_decimals(cli) -> None:  # type: ignore[no-untyped-def]
    cli("pot", "create", "tokyo", "--name", "Tokyo", "--currency", "JPY")
    assert cli("ledger", "record", "tokyo", "contribution", "250", "--memo", "m")[0] == 0
    code, out = cli("ledger", "record", "tokyo", "contribution", "250.00", "--memo", "m")
    assert code == 2 and "JPY has 0" in out


def test_idempotency_key_retry_and_conflict(cli, fresh_db: Database) -> None:  # type: ignore[no-untyped-def]
    cli("pot", "create", "p", "--name", "P", "--currency", "GBP")
    base = ("ledger", "record", "p", "contribution", "10.00", "--memo", "m")
    assert cli(*base, "--idempotency-key", "k")[0] == 0
    code, out = cli(*base, "--idempotency-key", "k")
    assert code == 0 and "already recorded" in out
    code, out = cli(
        "ledger", "record", "p", "contribution", "11.00", "--memo", "m", "--idempotency-key", "k"
    )
    assert code == 2 and "different content" in out
    assert entries_of(fresh_db, "p") == 1


def test_export_streams_csv_and_jsonl(cli) -> None:  # type: ignore[no-untyped-def]
    cli("pot", "create", "p", "--name", "P", "--currency", "GBP")
    cli("ledger", "record", "p", "contribution", "10.00", "--memo", '=HYPERLINK("x")')
    cli("ledger", "record", "p", "fee", "0.50", "--memo", "Host fee")
    code, out = cli("ledger", "export", "p", "--format", "jsonl")
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [e["seq"] for e in lines] == [1, 2]
    assert lines[1]["prev_hash"] == lines[0]["hash"]
    code, out = cli("ledger", "export", "p", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 4
    assert sum(int(r["amount_minor"]) for r in rows) == 0
    assert rows[0]["memo"].startswith("'=")  # spreadsheet formula injection neutralised


def test_demo_is_idempotent(cli, fresh_db: Database) -> None:  # type: ignore[no-untyped-def]
    code, out = cli("demo")
    assert code == 0 and "new entries" in out
    assert "signed checkpoint: " in out
    first = entries_of(fresh_db, "civic-practice-fund")
    assert first > 0
    code, out = cli("demo")
    assert code == 0 and "0 new entries" in out
    assert entries_of(fresh_db, "civic-practice-fund") == first
    assert cli("ledger", "verify")[0] == 0


def test_db_upgrade_is_repeatable(cli) -> None:  # type: ignore[no-untyped-def]
    code, out = cli("db", "upgrade")
    assert code == 0 and "database at revision" in out
    assert cli("db", "current")[0] == 0
