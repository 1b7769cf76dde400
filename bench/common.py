"""Shared helpers for the benchmark scripts in ``bench/``.

* throwaway databases: a SQLite file in a temporary folder, or a PostgreSQL database named
  ``cp_bench_*`` created on the server given by ``COMMONPOT_BENCH_POSTGRES_URL`` (else
  ``COMMONPOT_TEST_POSTGRES_URL``, else the local server as user postgres) and dropped afterwards;
  both migrated with ``app.migrate.upgrade``, the only way the schema is made;
* timing with :func:`time.perf_counter`: best-of-N and median-of-N, interleaving the variants
  being compared so that drift (cache warm-up, autovacuum, CPU frequency) hits them alike;
* a plain-text/markdown table, and replacing one ``## Section`` of ``docs/benchmarks.md``.

Benchmarks are scripts, not tests: run them as ``python bench/<name>.py``.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

from sqlalchemy import create_engine, text

try:
    import fcntl
except ImportError:  # not on Unix: no locking
    fcntl = None  # type: ignore[assignment]
from sqlalchemy.engine import make_url

from app.migrate import upgrade
from ledger.db import Database

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS_DOC = PROJECT_ROOT / "docs" / "benchmarks.md"
DEFAULT_POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BACKENDS = ("sqlite", "postgresql")
DOC_PREAMBLE = (
    "# Benchmarks\n\n"
    "Measured figures, written by the scripts in `bench/` (each script replaces its own section;\n"
    "edit the scripts, not the figures).\n"
)


# -- throwaway databases ---------------------------------------------------------------------


def postgres_admin_url() -> str:
    """The URL of a PostgreSQL database the benchmarks may connect to to create others."""
    return (
        os.environ.get("COMMONPOT_BENCH_POSTGRES_URL")
        or os.environ.get("COMMONPOT_TEST_POSTGRES_URL")
        or DEFAULT_POSTGRES_ADMIN_URL
    )


def postgres_unavailable() -> str | None:
    """None when the PostgreSQL server answers, else the reason it does not."""
    engine = create_engine(postgres_admin_url(), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means "not usable here"
        return str(exc).splitlines()[0]
    finally:
        engine.dispose()
    return None


def _postgres_admin(sql: str) -> None:
    engine = create_engine(postgres_admin_url(), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()


@contextmanager
def throwaway_database(
    backend: str, *, migrate: bool = True, prefix: str = "cp_bench_"
) -> Iterator[Database]:
    """A new, empty (by default migrated) database, removed when the block ends."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    if not prefix.startswith("cp_bench_"):
        raise ValueError("throwaway benchmark databases must be named cp_bench_*")
    name = f"{prefix}{os.getpid()}_{uuid.uuid4().hex[:8]}"
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix=prefix) as folder:
            db = Database(f"sqlite:///{Path(folder) / (name + '.sqlite3')}")
            try:
                if migrate:
                    upgrade(db)
                yield db
            finally:
                db.dispose()
        return
    _postgres_admin(f'CREATE DATABASE "{name}"')
    try:
        url = make_url(postgres_admin_url()).set(database=name)
        db = Database(url.render_as_string(hide_password=False))
        try:
            if migrate:
                upgrade(db)
            yield db
        finally:
            db.dispose()
    finally:
        # FORCE (PostgreSQL 13+) ends connections a crashed child process may have left behind.
        _postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_url(db: Database) -> str:
    """The full URL (password included) of ``db``, e.g. to open it in another process."""
    return db.engine.url.render_as_string(hide_password=False)


def database_version(db: Database) -> str:
    with db.engine.connect() as conn:
        if db.dialect == "sqlite":
            return "SQLite " + str(conn.execute(text("SELECT sqlite_version()")).scalar())
        return "PostgreSQL " + str(conn.execute(text("SHOW server_version")).scalar())


def database_settings(db: Database) -> str:
    """The settings that decide what a commit costs, in a few words."""
    with db.engine.connect() as conn:
        if db.dialect == "sqlite":
            mode = conn.execute(text("PRAGMA journal_mode")).scalar()
            sync = conn.execute(text("PRAGMA synchronous")).scalar()
            names = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
            sync_name = names.get(sync, str(sync)) if isinstance(sync, int) else str(sync)
            return f"temp file, journal_mode={mode}, synchronous={sync_name}"
        values = {
            name: conn.execute(text(f"SHOW {name}")).scalar()
            for name in ("fsync", "synchronous_commit", "shared_buffers")
        }
        host = db.engine.url.host or "local socket"
        return f"server at {host}, " + ", ".join(f"{k}={v}" for k, v in values.items())


def tidy_after_load(db: Database) -> None:
    """After bulk loading: fresh planner statistics, and no pending autovacuum/checkpoint work
    to land in the middle of a measurement."""
    if db.dialect == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
            conn.execute(text("CHECKPOINT"))
    else:
        with db.engine.connect() as conn:
            conn.execute(text("ANALYZE"))
            conn.commit()
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))


# -- timing -----------------------------------------------------------------------------------


def time_once(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def timings(
    fn: Callable[[], object],
    repeats: int,
    *,
    setup: Callable[[], object] | None = None,
    warmup: int = 0,
) -> list[float]:
    """Seconds taken by each of ``repeats`` calls of ``fn`` (``setup`` runs untimed before each)."""
    for _ in range(warmup):
        if setup is not None:
            setup()
        fn()
    result = []
    for _ in range(repeats):
        if setup is not None:
            setup()
        result.append(time_once(fn))
    return result


def interleaved(
    variants: dict[str, Callable[[], object]],
    repeats: int,
    *,
    setup: dict[str, Callable[[], object]] | None = None,
    warmup: int = 0,
) -> dict[str, list[float]]:
    """Like :func:`timings` for several variants, alternating them: A B A B ... so that a
    baseline and the code measured against it see the same machine conditions."""
    setup = setup or {}
    result: dict[str, list[float]] = {name: [] for name in variants}
    for round_ in range(warmup + repeats):
        for name, fn in variants.items():
            if name in setup:
                setup[name]()
            seconds = time_once(fn)
            if round_ >= warmup:
                result[name].append(seconds)
    return result


def best(samples: Sequence[float]) -> float:
    return min(samples)


def median(samples: Sequence[float]) -> float:
    return statistics.median(samples)


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


# -- formatting -------------------------------------------------------------------------------


def fmt_rate(per_second: float, unit: str = "entries/s") -> str:
    if per_second >= 100:
        return f"{per_second:,.0f} {unit}"
    return f"{per_second:,.1f} {unit}"


def fmt_seconds(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:,.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:,.2f} ms"
    return f"{seconds:,.1f} s"


def fmt_ratio(ratio: float) -> str:
    return f"{ratio:.3f}" if ratio < 0.1 else f"{ratio:.2f}"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured markdown table, padded so that it also reads well in a terminal.
    Columns whose cells all start with a digit are right-aligned."""
    cells = [[str(c) for c in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    numeric = [
        bool(rows) and all(re.match(r"^[-+]?[\d.,]", str(row[i])) for row in rows)
        for i in range(len(headers))
    ]

    def line(row: Sequence[str]) -> str:
        padded = [
            c.rjust(w) if num else c.ljust(w)
            for c, w, num in zip(row, widths, numeric, strict=True)
        ]
        return "| " + " | ".join(padded) + " |"

    rule = (
        "|"
        + "|".join(
            ("-" * (w + 1) + ":") if n else ("-" * (w + 2))
            for w, n in zip(widths, numeric, strict=True)
        )
        + "|"
    )
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])])


# -- environment ------------------------------------------------------------------------------


def _cpu_model() -> str:
    model = platform.processor()
    try:
        for raw in Path("/proc/cpuinfo").read_text().splitlines():
            if raw.startswith("model name"):
                return raw.split(":", 1)[1].strip()
    except OSError:
        pass
    return model or platform.machine()


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def load_average() -> str:
    """The 1-minute load average and the CPU count, to spot a busy machine."""
    try:
        return f"{os.getloadavg()[0]:.2f} (on {os.cpu_count()} CPUs)"
    except OSError:
        return "unknown"


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def environment_rows(packages: Sequence[str] = ("sqlalchemy", "psycopg")) -> list[list[str]]:
    """Rows (name, value) describing where the figures were measured."""
    rows = [
        ["Date", utc_now()],
        ["Machine", f"{platform.platform()}, {platform.machine()}"],
        ["CPU", f"{_cpu_model()}, os.cpu_count() = {os.cpu_count()}"],
        [
            "Python",
            f"{platform.python_implementation()} {platform.python_version()}"
            f" ({sys.executable.replace(str(PROJECT_ROOT) + os.sep, '')})",
        ],
    ]
    rows.append(["Packages", ", ".join(f"{p} {_version(p)}" for p in packages)])
    return rows


# -- docs/benchmarks.md -----------------------------------------------------------------------


def write_markdown_section(title: str, body: str, path: Path = BENCHMARKS_DOC) -> None:
    """Put ``## {title}`` followed by ``body`` into ``path``, replacing that section (up to the
    next level-2 heading) if it is there and appending it otherwise. ``body`` may use ``###``
    and deeper headings, never ``##``."""
    heading = f"## {title}"
    section = f"{heading}\n\n{body.strip()}\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    # Several benchmark scripts share the file: hold an exclusive lock from read to write.
    with open(path, "a+", encoding="utf-8") as handle:
        if fcntl is not None:
            fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        handle_text = handle.read() or DOC_PREAMBLE
        new = _replace_section(handle_text, heading, section)
        handle.seek(0)
        handle.truncate()
        handle.write(new)


def _replace_section(text_: str, heading: str, section: str) -> str:
    lines = text_.splitlines(keepends=True)
    start = next((i for i, ln in enumerate(lines) if ln.rstrip() == heading), None)
    if start is None:
        return text_.rstrip("\n") + "\n\n" + section
    end = start + 1
    in_fence = False
    while end < len(lines):
        stripped = lines[end].lstrip()
        if stripped.startswith("```"):
            in_fence = not in_fence
        elif not in_fence and re.match(r"^## (?!#)", lines[end]):
            break
        end += 1
    rest = "".join(lines[end:])
    return "".join(lines[:start]) + section + ("\n" + rest if rest else "")
