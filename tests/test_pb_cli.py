"""`commonpot pb simulate` through the real console script, on the shared real elections."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import dispose_app, make_app
from ledger.db import Database

FIXTURES = Path(__file__).parent / "fixtures" / "pabulib"
EXPECTED = json.loads((FIXTURES / "expected.json").read_text())
COMMONPOT = str(Path(sys.executable).parent / "commonpot")
SMALL = "poland_gdynia_2020_oksywie-small.pb"


def simulate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [COMMONPOT, "pb", "simulate", *args], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    "rule", ["greedy", "mes", "mes_cardinality", "mes_add1", "mes_add1_greedy"]
)
def test_json_output_matches_the_reference(rule: str) -> None:
    result = simulate(str(FIXTURES / SMALL), "--rule", rule, "--json")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert set(answer["winners"]) == set(map(str, EXPECTED[SMALL][rule]))
    assert isinstance(answer["spent"], int)


def test_human_output_and_explanations() -> None:
    result = simulate(str(FIXTURES / SMALL), "--explain")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("mes_add1: ")
    assert "approvals" in result.stdout


def test_malformed_file_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pb"
    bad.write_text(
        "META\nkey;value\nnum_projects;1\nbudget;100\nPROJECTS\nproject_id;cost\n1;abc\n"
    )
    result = simulate(str(bad))
    assert result.returncode == 2
    assert "line 7" in result.stderr, result.stderr


# The same command through Flask's CLI runner, in process (no database is touched).
HALL_PB = """\
META
key;value
description;Village hall fund
currency;GBP
budget;120
vote_type;approval
PROJECTS
project_id;cost;name
a;60;Community fridge
b;40;Tool library
c;50;Mural
d;25;Seed swap
VOTES
voter_id;vote
1;a,d
2;a,d
3;a,b
4;b,c
"""


@pytest.fixture
def hall(tmp_path: Path) -> Path:
    path = tmp_path / "hall.pb"
    path.write_text(HALL_PB)
    return path


def run_cli(tmp_path: Path, *args: str) -> tuple[int, str]:
    database = Database(f"sqlite:///{tmp_path / 'unused.db'}")
    app = make_app(database, tmp_path)
    try:
        result = app.test_cli_runner().invoke(args=["pb", "simulate", *args])
    finally:
        dispose_app(app)
        database.dispose()
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def test_json_output_keeps_its_exact_shape(tmp_path: Path, hall: Path) -> None:
    code, output = run_cli(tmp_path, str(hall), "--rule", "mes", "--json")
    assert code == 0
    assert output == '{"winners": ["a", "b"], "spent": 100}\n'


def test_explain_prints_reasons_in_the_files_currency(tmp_path: Path, hall: Path) -> None:
    code, output = run_cli(tmp_path, str(hall), "--rule", "mes", "--explain")
    assert code == 0, output
    assert "the £120.00 budget was split equally between the 4 voters, £30.00 each" in output
    assert "a Community fridge: Funded (chosen first)" in output
    assert "b Tool library: Funded (chosen second); it costs £40.00 and its 2 supporters" in output
    assert "c Mural: Not funded: its one supporter had only £30.00" in output
    assert "they had only £20.00 left between them; it costs £25.00." in output


def test_json_explain_puts_the_explanation_under_its_own_key(tmp_path: Path, hall: Path) -> None:
    code, output = run_cli(tmp_path, str(hall), "--rule", "mes_add1_greedy", "--json", "--explain")
    assert code == 0, output
    answer = json.loads(output)
    assert list(answer) == ["winners", "spent", "explanation"]
    assert (answer["winners"], answer["spent"]) == (["a", "b"], 100)
    explanation = answer["explanation"]
    assert (explanation["rule"], explanation["currency"], explanation["share"]) == (
        "mes_add1_greedy",
        "GBP",
        "30",
    )
    b = next(p for p in explanation["projects"] if p["project_id"] == "b")
    assert b["payments"] == [
        {"voters": 1, "each": "30", "all_they_had": False},
        {"voters": 1, "each": "10", "all_they_had": True},
    ]
    assert "voter_id" not in output


def test_currency_option_and_unknown_currency(tmp_path: Path, hall: Path) -> None:
    code, output = run_cli(
        tmp_path, str(hall), "--rule", "greedy", "--explain", "--currency", "EUR"
    )
    assert code == 0 and "€20.00 of the budget was left" in output
    code, output = run_cli(tmp_path, str(hall), "--explain", "--currency", "XYZ")
    assert code == 2 and "'XYZ' is not an ISO 4217 currency code" in output


def test_runner_reports_malformed_file_with_line(tmp_path: Path, hall: Path) -> None:
    hall.write_text(HALL_PB.replace("c;50;Mural", "c;fifty;Mural"))
    code, output = run_cli(tmp_path, str(hall), "--explain")
    assert code == 2
    assert "line 11: project cost 'fifty' is not an integer" in output
