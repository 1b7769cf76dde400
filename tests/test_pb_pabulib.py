"""Reading and writing pabulib files: errors name the right line, and dump -> parse is lossless."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.pb import Election, PabulibError, Project, dump_pb, format_money, load_pb, parse_pb

FIXTURES = Path(__file__).parent / "fixtures" / "pabulib"
FILES = sorted(path.name for path in FIXTURES.glob("*.pb"))

VALID = """\
META
key;value
description;Test election
num_projects;3
num_votes;3
budget;1000
vote_type;approval
rule;greedy
PROJECTS
project_id;cost;name;votes
1;400;"Park; benches";2
2;500;"The ""big"" tree";2
3;700;Library;1
VOTES
voter_id;age;vote
v1;30;1,2
v2;41;2,3
v3;25;1
"""


def variant(changes: dict[int, str | None], keep: int | None = None) -> str:
    """VALID with 1-based line ``n`` replaced (None: deleted), optionally cut after ``keep``."""
    lines = VALID.splitlines()[:keep]
    edited = [changes.get(n, line) for n, line in enumerate(lines, start=1)]
    return "\n".join(line for line in edited if line is not None) + "\n"


def test_valid_file_parses() -> None:
    election = parse_pb(VALID)
    assert election.budget == 1000
    assert election.meta["rule"] == "greedy"
    assert election.projects["1"] == Project("1", 400, "Park; benches", {"votes": "2"})
    assert election.projects["2"].name == 'The "big" tree'
    assert election.ballots == [frozenset({"1", "2"}), frozenset({"2", "3"}), frozenset({"1"})]
    assert election.voter_ids == ["v1", "v2", "v3"]
    assert election.voter_extra == [{"age": "30"}, {"age": "41"}, {"age": "25"}]


MALFORMED = {
    "cost_not_integer": (variant({11: "1;abc;Park;2"}), 11, "project cost 'abc' is not an integer"),
    "cost_fractional": (
        variant({11: "1;12.5;Park;2"}),
        11,
        "project cost '12.5' is not an integer",
    ),
    "cost_zero": (variant({12: "2;0;Tree;2"}), 12, "project cost must be positive, got '0'"),
    "cost_negative": (variant({13: "3;-700;Library;1"}), 13, "must be positive, got '-700'"),
    "empty_project_id": (variant({11: ";400;Park;2"}), 11, "project_id is empty"),
    "duplicate_project": (
        variant({13: "1;700;Library;1"}),
        13,
        "duplicate project id '1' (first on line 11)",
    ),
    "project_columns": (variant({12: "2;500;Tree"}), 12, "expected 4 columns"),
    "vote_columns": (variant({17: "v2;2,3"}), 17, "expected 3 columns as in the VOTES header"),
    "unknown_project": (variant({18: "v3;25;1,9"}), 18, "vote names unknown project '9'"),
    "duplicate_voter": (variant({18: "v1;25;1"}), 18, "duplicate voter_id 'v1' (first on line 16)"),
    "ordinal_votes": (variant({7: "vote_type;ordinal"}), 7, "vote_type 'ordinal' is not supported"),
    "no_vote_type": (variant({7: None}), 1, "META has no 'vote_type'"),
    "no_budget": (variant({6: None}), 1, "META has no 'budget'"),
    "budget_text": (variant({6: "budget;lots"}), 6, "budget 'lots' is not a number"),
    "budget_zero": (variant({6: "budget;0"}), 6, "budget must be positive"),
    "meta_columns": (variant({3: "description;a;b"}), 3, "META row must have 2 columns"),
    "duplicate_meta": (variant({4: "budget;5"}), 6, "duplicate META key 'budget'"),
    "missing_votes": (variant({}, keep=13), 13, "missing VOTES section"),
    "missing_projects": (variant(dict.fromkeys(range(9, 14))), 13, "missing PROJECTS section"),
    "votes_without_header": (variant({}, keep=14), 14, "VOTES section has no header row"),
    "no_cost_column": (variant({10: "project_id;price;name;votes"}), 10, "no 'cost' column"),
    "no_vote_column": (variant({15: "voter_id;age;ballot"}), 15, "no 'vote' column"),
    "text_before_meta": ("hello\n" + VALID, 1, "expected a META, PROJECTS or VOTES section"),
    "duplicate_section": (VALID + "META\n", 19, "duplicate META section"),
    "empty": ("", 1, "missing META section"),
    "field_too_long": (
        variant({11: "1;400;" + "x" * 200_000 + ";2"}),
        11,
        "unreadable row (field larger than field limit",
    ),
    # A quoted name may span lines: later lines keep their physical numbers.
    "after_multiline_name": (
        variant({11: '1;400;"Park\nbenches";2', 13: "3;7x0;Library;1"}),
        14,
        "project cost '7x0' is not an integer",
    ),
}


@pytest.mark.parametrize(("text", "line", "message"), MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_file_reports_line(text: str, line: int, message: str) -> None:
    with pytest.raises(PabulibError) as caught:
        parse_pb(text)
    assert caught.value.line == line
    assert str(caught.value).startswith(f"line {line}: ")
    assert message in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_windows_line_endings() -> None:
    assert parse_pb(VALID.replace("\n", "\r\n")) == parse_pb(VALID)
    with pytest.raises(PabulibError, match=r"^line 11: "):
        parse_pb(variant({11: "1;abc;Park;2"}).replace("\n", "\r\n"))


def test_decimal_budgets_are_exact() -> None:
    assert parse_pb(variant({6: "budget;770039.52"})).budget == Fraction(77003952, 100)
    assert parse_pb(variant({6: "budget;1000,5"})).budget == Fraction(2001, 2)
    assert parse_pb(variant({6: "budget;1000.00"})).budget == 1000
    assert format_money(Fraction(77003952, 100)) == "770039.52"
    with pytest.raises(ValueError, match="no finite decimal form"):
        format_money(Fraction(1, 3))


def test_choose_one_ballots_are_approval_ballots() -> None:
    assert parse_pb(variant({7: "vote_type;choose-1"})).num_voters == 3


def test_load_tolerates_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "bom.pb"
    path.write_bytes(b"\xef\xbb\xbf" + VALID.encode())
    assert load_pb(path) == parse_pb(VALID)


@pytest.mark.parametrize("name", FILES, ids=FILES)
def test_real_files_round_trip(name: str) -> None:
    election = load_pb(FIXTURES / name)
    assert parse_pb(dump_pb(election)) == election


def test_dump_marks_selected_projects() -> None:
    election = parse_pb(VALID)
    again = parse_pb(dump_pb(election, selected={"2"}))
    assert {p.id: p.extra["selected"] for p in again.projects.values()} == {
        "1": "0",
        "2": "1",
        "3": "0",
    }
    with pytest.raises(ValueError, match="unknown projects"):
        dump_pb(election, selected={"9"})


def test_dump_writes_sections_with_headers() -> None:
    text = dump_pb(parse_pb(VALID))
    lines = text.splitlines()
    assert lines[:2] == ["META", "key;value"]
    assert "PROJECTS" in lines and "project_id;cost;name;votes" in lines
    assert "VOTES" in lines and "voter_id;age;vote" in lines
    assert '1;400;"Park; benches";2' in lines


# Ids may not contain "," (it separates approved projects) nor be a bare section name.
_ID = st.text("abcXYZ019_-.", min_size=1, max_size=6).filter(
    lambda s: s.lower() not in ("meta", "projects", "votes")
)
_NAME = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=12).map(str.strip)
_BUDGET = st.one_of(
    st.integers(1, 10**12), st.integers(1, 10**12).map(lambda cents: Fraction(cents, 100))
)


@st.composite
def elections(draw: st.DrawFn) -> Election:
    ids = draw(st.lists(_ID, unique=True, max_size=8))
    projects = {i: Project(i, draw(st.integers(1, 10**9)), draw(_NAME)) for i in ids}
    ballots = draw(st.lists(st.frozensets(st.sampled_from(ids)) if ids else st.just(frozenset())))
    budget = draw(_BUDGET)
    meta = {
        "description": draw(_NAME),
        "num_projects": str(len(projects)),
        "num_votes": str(len(ballots)),
        "budget": format_money(budget),
        "vote_type": "approval",
    }
    voter_ids = [str(n) for n in range(1, len(ballots) + 1)]
    return Election(meta, budget, projects, ballots, voter_ids, [{} for _ in ballots])


@settings(database=None, max_examples=150, deadline=None)
@given(elections())
def test_round_trip_preserves_any_election(election: Election) -> None:
    assert parse_pb(dump_pb(election)) == election
