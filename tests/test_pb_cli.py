"""`commonpot pb simulate` through the real console script, on the shared real elections."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

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
