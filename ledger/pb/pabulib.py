"""Reading and writing the pabulib ``.pb`` format (pabulib.org) for approval elections.

A file has three sections, each a section-name line followed by a header row and
``;``-separated rows (CSV quoting rules apply, so names may contain ``;`` or quotes)::

    META            PROJECTS                    VOTES
    key;value       project_id;cost;name;...    voter_id;...;vote
    budget;750000   12;40000;Park benches       1;...;12,31

Every problem is reported as a :class:`PabulibError` naming the physical line, because these
files are edited by hand and "invalid file" alone does not help anyone fix one.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from ledger.pb.model import Election, Money, Project, normalise_money

_SECTIONS = ("meta", "projects", "votes")
# Pabutools reads "choose-1" ballots as approval ballots too (one approved project each).
_APPROVAL_TYPES = ("approval", "choose-1")
# Pabulib writes amounts as plain decimals; some files use a decimal comma. A sign is
# accepted here only so that "-5" gets the clearer "must be positive" error.
_DECIMAL = re.compile(r"^-?[0-9]+(?:[.,][0-9]+)?$")
_PROJECT_CORE = ("project_id", "cost", "name")
_VOTE_CORE = ("voter_id", "vote")


class PabulibError(ValueError):
    """A malformed pabulib file; ``line`` is the 1-based line the problem was found on."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


@dataclass
class _Section:
    """The raw rows of one section, each with the line it came from."""

    name: str
    line: int
    header: list[str] = field(default_factory=list)
    header_line: int = 0
    rows: list[tuple[int, list[str]]] = field(default_factory=list)


def load_pb(path: str | Path) -> Election:
    """Parse a ``.pb`` file (UTF-8, a leading byte-order mark is tolerated)."""
    return parse_pb(Path(path).read_text(encoding="utf-8-sig"))


def parse_pb(text: str) -> Election:
    """Parse pabulib text into an :class:`Election`; raise :class:`PabulibError` if malformed."""
    sections, last_line = _split_sections(text.removeprefix("\ufeff"))
    for name in _SECTIONS:
        if name not in sections:
            raise PabulibError(last_line, f"missing {name.upper()} section")
    meta, meta_lines = _parse_meta(sections["meta"])
    budget = _parse_budget(meta, meta_lines, sections["meta"].line)
    _check_vote_type(meta, meta_lines, sections["meta"].line)
    projects = _parse_projects(sections["projects"])
    ballots, voter_ids, voter_extra = _parse_votes(sections["votes"], projects)
    return Election(meta, budget, projects, ballots, voter_ids, voter_extra)


def _split_sections(text: str) -> tuple[dict[str, _Section], int]:
    """Group rows by section, remembering line numbers; returns the sections and the last line."""
    sections: dict[str, _Section] = {}
    current: _Section | None = None
    # newline="" lets csv see line ends itself, so line numbers are those an editor shows
    # (str.splitlines would also break lines at characters such as U+2028 inside names).
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=";")
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            raise PabulibError(reader.line_num, f"unreadable row ({error})") from None
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue  # blank lines carry no data anywhere in the format
        marker = row[0].strip().lower()
        if marker in _SECTIONS and not any(cell.strip() for cell in row[1:]):
            if marker in sections:
                raise PabulibError(line, f"duplicate {marker.upper()} section")
            current = sections[marker] = _Section(marker, line)
        elif current is None:
            raise PabulibError(line, "expected a META, PROJECTS or VOTES section line first")
        elif not current.header:
            current.header = [cell.strip() for cell in row]
            current.header_line = line
        else:
            current.rows.append((line, row))
    for section in sections.values():
        if not section.header:
            raise PabulibError(section.line, f"{section.name.upper()} section has no header row")
    return sections, max(reader.line_num, 1)


def _parse_meta(section: _Section) -> tuple[dict[str, str], dict[str, int]]:
    """META rows are ``key;value`` pairs; keys are unique."""
    meta: dict[str, str] = {}
    lines: dict[str, int] = {}
    for line, row in section.rows:
        if len(row) != 2:
            raise PabulibError(line, f"META row must have 2 columns (key;value), found {len(row)}")
        key, value = row[0].strip(), row[1].strip()
        if not key:
            raise PabulibError(line, "META key is empty")
        if key in meta:
            raise PabulibError(line, f"duplicate META key {key!r} (first on line {lines[key]})")
        meta[key], lines[key] = value, line
    return meta, lines


def _parse_budget(meta: dict[str, str], lines: dict[str, int], section_line: int) -> Money:
    """The budget may carry decimals (e.g. ``770039.52``): keep it exact, never as a float."""
    if "budget" not in meta:
        raise PabulibError(section_line, "META has no 'budget'")
    text = meta["budget"]
    if not _DECIMAL.match(text):
        raise PabulibError(lines["budget"], f"budget {text!r} is not a number")
    budget = normalise_money(Fraction(text.replace(",", ".")))
    if budget <= 0:
        raise PabulibError(lines["budget"], f"budget must be positive, got {text!r}")
    return budget


def _check_vote_type(meta: dict[str, str], lines: dict[str, int], section_line: int) -> None:
    vote_type = meta.get("vote_type")
    if vote_type is None:
        raise PabulibError(section_line, "META has no 'vote_type' (only 'approval' is supported)")
    if vote_type.lower() not in _APPROVAL_TYPES:
        raise PabulibError(
            lines["vote_type"],
            f"vote_type {vote_type!r} is not supported: only approval ballots can be read",
        )


def _column_index(section: _Section, required: tuple[str, ...]) -> dict[str, int]:
    """Map column names to positions, insisting on unique names and the required columns."""
    index: dict[str, int] = {}
    for position, name in enumerate(section.header):
        if name in index:
            raise PabulibError(section.header_line, f"duplicate column {name!r}")
        index[name] = position
    for name in required:
        if name not in index:
            raise PabulibError(
                section.header_line, f"{section.name.upper()} header has no {name!r} column"
            )
    return index


def _cells(section: _Section, line: int, row: list[str]) -> dict[str, str]:
    """A row as ``column -> stripped text``; the column count must match the header."""
    if len(row) != len(section.header):
        raise PabulibError(
            line,
            f"expected {len(section.header)} columns as in the {section.name.upper()} header, "
            f"found {len(row)}",
        )
    return {name: cell.strip() for name, cell in zip(section.header, row, strict=True)}


def _parse_cost(text: str, line: int) -> int:
    if not _DECIMAL.match(text):
        raise PabulibError(line, f"project cost {text!r} is not an integer")
    cost = Fraction(text.replace(",", "."))
    if cost.denominator != 1:
        raise PabulibError(line, f"project cost {text!r} is not an integer")
    if cost <= 0:
        raise PabulibError(line, f"project cost must be positive, got {text!r}")
    return int(cost)


def _parse_projects(section: _Section) -> dict[str, Project]:
    _column_index(section, ("project_id", "cost"))
    projects: dict[str, Project] = {}
    first_line: dict[str, int] = {}
    for line, row in section.rows:
        cells = _cells(section, line, row)
        project_id = cells["project_id"]
        if not project_id:
            raise PabulibError(line, "project_id is empty")
        if project_id in projects:
            raise PabulibError(
                line,
                f"duplicate project id {project_id!r} (first on line {first_line[project_id]})",
            )
        extra = {key: value for key, value in cells.items() if key not in _PROJECT_CORE}
        cost = _parse_cost(cells["cost"], line)
        projects[project_id] = Project(project_id, cost, cells.get("name", ""), extra)
        first_line[project_id] = line
    return projects


def _parse_votes(
    section: _Section, projects: dict[str, Project]
) -> tuple[list[frozenset[str]], list[str], list[dict[str, str]]]:
    columns = _column_index(section, ("vote",))
    has_ids = "voter_id" in columns
    ballots: list[frozenset[str]] = []
    voter_ids: list[str] = []
    voter_extra: list[dict[str, str]] = []
    first_line: dict[str, int] = {}
    for line, row in section.rows:
        cells = _cells(section, line, row)
        voter_id = cells["voter_id"] if has_ids else str(len(ballots) + 1)
        if voter_id in first_line:
            raise PabulibError(
                line, f"duplicate voter_id {voter_id!r} (first on line {first_line[voter_id]})"
            )
        first_line[voter_id] = line
        approved = [name.strip() for name in cells["vote"].split(",") if name.strip()]
        for name in approved:
            if name not in projects:
                raise PabulibError(line, f"vote names unknown project {name!r}")
        ballots.append(frozenset(approved))
        voter_ids.append(voter_id)
        voter_extra.append({k: v for k, v in cells.items() if k not in _VOTE_CORE})
    return ballots, voter_ids, voter_extra


def format_money(amount: Money) -> str:
    """Write an exact amount as pabulib does: a plain decimal (``770039.52``), never ``a/b``."""
    amount = normalise_money(amount)
    if isinstance(amount, int):
        return str(amount)
    # A fraction has a finite decimal form exactly when its denominator is 2^a * 5^b;
    # it then needs max(a, b) digits after the point.
    rest, twos, fives = amount.denominator, 0, 0
    while rest % 2 == 0:
        rest, twos = rest // 2, twos + 1
    while rest % 5 == 0:
        rest, fives = rest // 5, fives + 1
    if rest != 1:
        raise ValueError(f"{amount} has no finite decimal form")
    digits = max(twos, fives)
    scaled = int(amount * 10**digits)
    sign = "-" if scaled < 0 else ""
    whole, part = divmod(abs(scaled), 10**digits)
    return f"{sign}{whole}.{part:0{digits}d}"


def dump_pb(election: Election, selected: set[str] | None = None) -> str:
    """Serialise an election as pabulib text that :func:`parse_pb` reads back unchanged.

    With ``selected``, the PROJECTS section gets a ``selected`` column (1 funded, 0 not) that
    replaces any such column carried over from the source file.
    """
    if selected is not None:
        unknown = selected - election.projects.keys()
        if unknown:
            raise ValueError(f"selected names unknown projects {sorted(unknown)}")
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\n")
    writer.writerows(_meta_rows(election))
    writer.writerows(_project_rows(election, selected))
    writer.writerows(_vote_rows(election))
    return out.getvalue()


def _meta_rows(election: Election) -> list[list[str]]:
    meta = dict(election.meta)
    # The counts and the budget are facts of the data, so they are rewritten from it.
    meta["num_projects"] = str(len(election.projects))
    meta["num_votes"] = str(election.num_voters)
    meta["budget"] = format_money(election.budget)
    meta["vote_type"] = "approval"
    return [["META"], ["key", "value"], *([key, value] for key, value in meta.items())]


def _union_keys(dicts: list[dict[str, str]], skip: set[str]) -> list[str]:
    """Column names in first-seen order, so exported columns keep the source's order."""
    seen: dict[str, None] = {}
    for entry in dicts:
        for key in entry:
            if key not in skip:
                seen.setdefault(key)
    return list(seen)


def _project_rows(election: Election, selected: set[str] | None) -> list[list[str]]:
    projects = list(election.projects.values())
    skip = {"selected"} if selected is not None else set()
    extra_keys = _union_keys([dict(p.extra) for p in projects], skip)
    header = [*_PROJECT_CORE, *extra_keys]
    if selected is not None:
        header.append("selected")
    rows: list[list[str]] = [["PROJECTS"], header]
    for project in projects:
        row = [project.id, str(project.cost), project.name]
        row += [project.extra.get(key, "") for key in extra_keys]
        if selected is not None:
            row.append("1" if project.id in selected else "0")
        rows.append(row)
    return rows


def _vote_rows(election: Election) -> list[list[str]]:
    extras = election.voter_extra or [{} for _ in election.ballots]
    extra_keys = _union_keys(extras, set(_VOTE_CORE))
    rows: list[list[str]] = [["VOTES"], ["voter_id", *extra_keys, "vote"]]
    for index, ballot in enumerate(election.ballots):
        voter_id = election.voter_ids[index] if election.voter_ids else str(index + 1)
        row = [voter_id, *(extras[index].get(key, "") for key in extra_keys)]
        rows.append([*row, ",".join(sorted(ballot))])
    return rows
