"""Open Collective sync benchmark: entries per second, and memory that stays flat as N grows.

    python bench/oc_sync_bench.py [--backend sqlite|postgresql|both] [--sizes 10000,50000]
                                  [--page-size 1000] [--quick] [--no-write]

The fake Open Collective of ``tests/oc_fake`` (a real HTTP server validating every query against
the real schema) runs in its own process, holding one collective per size with N generated
transactions (contributions with their fee rows, added funds, expenses, refunds). For each
backend and size, a new throwaway database (``bench.common.throwaway_database``) gets a GBP pot
linked to that collective, and a fresh child process runs ``sync_pot`` from offset 0 to the end:

* *timed* run: wall-clock seconds, entries per second, and the child's peak RSS;
* *traced* run (a second pot): the same sync under ``tracemalloc``, whose peak is the most
  Python memory the sync held at once. tracemalloc slows allocation-heavy code a lot, so its run
  is not the one timed.

Memory is flat when the traced peak at the biggest N is no more than 1.5 times the peak at the
smallest: the sync holds one page, never the whole listing. Prints a table and replaces the
"Open Collective sync" section of ``docs/benchmarks.md`` (``--no-write`` to leave it alone).
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import time
import tracemalloc
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    BACKENDS,
    database_settings,
    database_url,
    database_version,
    environment_rows,
    fmt_rate,
    fmt_seconds,
    load_average,
    markdown_table,
    postgres_unavailable,
    throwaway_database,
    utc_now,
    write_markdown_section,
)
from integrations.opencollective import OpenCollectiveClient
from integrations.opencollective.store import link_pot
from integrations.opencollective.sync import sync_pot
from ledger.db import Database
from ledger.pots import create_pot, get_pot, summarise

SECTION = "Open Collective sync"
SEED = 3  # the fake's seed 3 never overdraws the pot (see tests/test_oc_sync.py)
FLAT = 1.5  # traced peak at the biggest N / at the smallest, at most
MB = 1024 * 1024


@dataclass(frozen=True)
class Run:
    appended: int
    seconds: float
    traced_peak: int | None  # bytes (tracemalloc), traced runs only
    max_rss: int  # bytes, the child process's peak resident set


@dataclass(frozen=True)
class Row:
    backend: str
    size: int
    timed: Run
    traced: Run
    held_matches: bool


# -- the fake Open Collective, in its own process -------------------------------------------


def _serve(sizes: Sequence[int], conn: Connection) -> None:
    from tests.oc_fake import FakeOpenCollective, FakeServer

    fake = FakeOpenCollective()
    balances = {}
    for size in sizes:
        slug = f"bench-{size}"
        fake.add_collective(slug, currency="GBP")
        fake.generate_transactions(slug, size, seed=SEED)
        balances[slug] = int(fake.accounts[slug]["_balance"])
    with FakeServer(fake) as server:
        conn.send((server.url, fake.token, balances))
        conn.recv()  # until told to stop


# -- one sync, in a fresh child process -----------------------------------------------------


def _sync_child(url: str, slug: str, api_url: str, token: str, page_size: int, traced: bool) -> Run:
    db = Database(url)
    try:
        with OpenCollectiveClient(api_url, token) as client:
            if traced:
                tracemalloc.start()
            started = time.perf_counter()
            result = sync_pot(db, slug, client, page_size=page_size)
            seconds = time.perf_counter() - started
            peak = tracemalloc.get_traced_memory()[1] if traced else None
            tracemalloc.stop()
    finally:
        db.dispose()
    max_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    return Run(result.appended, seconds, peak, max_rss)


def measure(
    backend: str, size: int, server: tuple[str, str, dict[str, int]], page_size: int
) -> Row:
    api_url, token, balances = server
    collective = f"bench-{size}"
    runs: dict[bool, Run] = {}
    held_matches = True
    context = multiprocessing.get_context("spawn")
    for traced in (False, True):
        with throwaway_database(backend) as db:
            slug = "traced" if traced else "timed"
            with db.write() as session:
                create_pot(session, slug, name=f"Bench {slug}", currency="GBP")
            with OpenCollectiveClient(api_url, token) as client:
                link_pot(db, slug, collective, client, actor="bench")
            args = (database_url(db), slug, api_url, token, page_size, traced)
            with context.Pool(1) as pool:
                runs[traced] = pool.apply(_sync_child, args)
            with db.read() as session:
                held = summarise(session, get_pot(session, slug)).held
            held_matches = held_matches and held == balances[collective]
            if backend == "sqlite" or not traced:
                note = "traced" if traced else "timed"
                print(f"  {backend} {size:,} {note}: {fmt_seconds(runs[traced].seconds)}")
    return Row(backend, size, runs[False], runs[True], held_matches)


# -- report ---------------------------------------------------------------------------------


def results_table(rows: Sequence[Row]) -> str:
    body = [
        [
            row.backend,
            f"{row.size:,}",
            f"{row.timed.appended:,}",
            fmt_seconds(row.timed.seconds),
            fmt_rate(row.timed.appended / row.timed.seconds),
            f"{(row.traced.traced_peak or 0) / MB:.1f} MiB",
            f"{row.timed.max_rss / MB:.0f} MiB",
            "yes" if row.held_matches else "**no**",
        ]
        for row in rows
    ]
    headers = [
        "Backend",
        "Transactions",
        "Entries",
        "Sync time",
        "Rate",
        "Peak traced (tracemalloc)",
        "Peak RSS (timed run)",
        "Held = OC balance",
    ]
    return markdown_table(headers, body)


def flatness(rows: Sequence[Row]) -> list[str]:
    lines = []
    for backend in sorted({r.backend for r in rows}):
        mine = sorted((r for r in rows if r.backend == backend), key=lambda r: r.size)
        if len(mine) < 2:
            continue
        small, big = mine[0], mine[-1]
        ratio = (big.traced.traced_peak or 0) / max(small.traced.traced_peak or 1, 1)
        verdict = "flat" if ratio <= FLAT else "NOT flat"
        lines.append(
            f"- {backend}: traced peak at {big.size:,} transactions / at {small.size:,} = "
            f"{ratio:.2f} (target ≤ {FLAT}): {verdict}"
        )
    return lines


def document(
    rows: Sequence[Row], args: argparse.Namespace, dbs: dict[str, str], took: float
) -> str:
    command = "python bench/oc_sync_bench.py " + " ".join(sys.argv[1:])
    env = environment_rows(("sqlalchemy", "psycopg", "requests", "graphql-core"))
    env += [[f"Database ({name})", text] for name, text in dbs.items()]
    env += [
        ["Run", f"`{command.strip()}`, {took / 60:.1f} min in all"],
        ["Load average", args.load],
    ]
    return "\n".join(
        [
            f"_Written by `bench/oc_sync_bench.py` ({utc_now()}); do not edit by hand. To re-run:_",
            "",
            "```sh",
            ".venv/bin/python bench/oc_sync_bench.py            # 10,000 and 50,000 transactions",
            ".venv/bin/python bench/oc_sync_bench.py --quick    # 1,000 and 5,000",
            "# options: --backend sqlite|postgresql|both, --sizes N,N,..., --page-size N,",
            "# --no-write (leave this file alone)",
            "```",
            "",
            "### Environment",
            "",
            markdown_table(["", ""], env),
            "",
            "### Method",
            "",
            "- The fake Open Collective (`tests/oc_fake`, a real HTTP server that validates every",
            "  query against the real schema) runs in its own process with one collective per",
            f"  size, filled by `generate_transactions(slug, N, seed={SEED})`: contributions",
            "  with their fee rows, added funds, expenses and refunds.",
            "- For each size a new database (SQLite temp file, or a throwaway PostgreSQL",
            "  database), migrated, with a GBP pot linked to that collective; a fresh child",
            f"  process runs `sync_pot(..., page_size={args.page_size})` from offset 0 to the",
            "  end: one request and one write transaction per page.",
            "- *Rate* and *peak RSS*: that timed run. *Peak traced*: a second run of the same",
            "  sync into a second pot under `tracemalloc` (the peak of Python allocations made",
            "  during the sync; tracemalloc's slowdown is why it is not the timed run).",
            "- *Held = OC balance*: after each sync, the pot's held money equals the fake's",
            "  `stats.balance`, to the penny.",
            "",
            "### Results",
            "",
            results_table(rows),
            "",
            "### Memory",
            "",
            *flatness(rows),
            "",
            "Each page is appended as one ledger batch (`append_many_locked`: hashing, the",
            "Merkle tree, balances; see the Ledger section).",
        ]
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--backend", choices=[*BACKENDS, "both"], default="sqlite")
    parser.add_argument("--sizes", default="10000,50000")
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="sizes 1,000 and 5,000")
    parser.add_argument("--no-write", action="store_true")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = [1000, 5000] if args.quick else [int(s) for s in args.sizes.split(",")]
    backends = list(BACKENDS) if args.backend == "both" else [args.backend]
    if "postgresql" in backends and (reason := postgres_unavailable()):
        print(f"PostgreSQL unavailable ({reason}); skipping it", file=sys.stderr)
        backends.remove("postgresql")
    args.load = load_average()
    started = time.perf_counter()
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    server_process = context.Process(target=_serve, args=(sizes, theirs), daemon=True)
    server_process.start()
    rows: list[Row] = []
    dbs: dict[str, str] = {}
    try:
        server = ours.recv()
        for backend in backends:
            with throwaway_database(backend) as db:
                dbs[backend] = f"{database_version(db)}; {database_settings(db)}"
            for size in sizes:
                rows.append(measure(backend, size, server, args.page_size))
    finally:
        ours.send("stop")
        server_process.join(timeout=30)
    took = time.perf_counter() - started
    args.load += f" before the run, {load_average()} after"
    print(results_table(rows))
    print("\n".join(flatness(rows)))
    if not args.no_write:
        write_markdown_section(SECTION, document(rows, args, dbs, took))
    return 0 if all(r.held_matches for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
