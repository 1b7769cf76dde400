"""Public overview benchmark: the page answers as fast for 100,000 entries as for 100.

    python bench/web_bench.py [--backend sqlite|postgresql|both] [--big 100000]
                              [--repeats 30] [--no-write]

For each backend, a throwaway database (``bench.common.throwaway_database``) gets two GBP pots:
one with 100 entries and one with ``--big`` entries, built with the journal's bulk append
(``ledger.batch.append_many``) in batches, each batch in a later month (the same months for
both pots, so both pages have the same chart and table). The app (``create_app``) then serves
``/pots/<slug>`` through Flask's test client (the whole request: routing, queries, templates,
headers; no network):

* *first view*: the first request for each pot in this process. It signs a checkpoint if the
  ledger grew and fills the monthly totals cache, which reads the pot's history once;
* *overview*: then ``--repeats`` requests for each pot, interleaved (small, big, small, ...),
  median of each; the *ratio* is big / small. The page reads maintained balances, the monthly
  totals cache (topped up from the entries appended since, by ``(pot_id, seq)`` index range)
  and the five newest entries, so the ratio should stay near 1.

Prints a table and replaces the "Web: public overview" section of ``docs/benchmarks.md``
(``--no-write`` to leave it alone).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    BACKENDS,
    database_settings,
    database_url,
    database_version,
    environment_rows,
    fmt_ratio,
    fmt_seconds,
    interleaved,
    load_average,
    markdown_table,
    median,
    postgres_unavailable,
    throwaway_database,
    tidy_after_load,
    utc_now,
    write_markdown_section,
)
from ledger.batch import append_many
from ledger.db import Database
from ledger.journal import EntryRequest
from ledger.operations import postings_for
from ledger.pots import create_pot

SECTION = "Web: public overview"
SMALL = 100
BATCH = 5_000
TARGET = 1.5  # overview time at --big entries / at 100 entries, at most
# A repeating pattern that never overdraws the pot: in 1,000, out 400 + 20, in 500, out 600.
PATTERN = (("contribution", 1_000), ("payout", 400), ("fee", 20), ("contribution", 500),
           ("payout", 600))  # fmt: skip


def fill(db: Database, slug: str, count: int, months: int) -> float:
    """``count`` entries in ``months`` batches, one month apart; returns the seconds taken."""
    with db.write() as session:
        create_pot(session, slug, name=f"Benchmark pot of {count:,} entries", currency="GBP")
    start = time.perf_counter()
    done = 0
    month = 0
    batch = -(-count // months)
    while done < count:
        size = min(batch, count - done)
        requests = [
            EntryRequest(
                kind=kind,
                memo=f"{kind} #{done + i + 1}",
                actor="bench",
                postings=postings_for(kind, amount),
            )
            for i, (kind, amount) in enumerate(
                PATTERN[(done + j) % len(PATTERN)] for j in range(size)
            )
        ]
        when = datetime(2020 + month // 12, month % 12 + 1, 15, 12, tzinfo=UTC)
        with db.write() as session:
            append_many(session, slug, requests, now=when)
        done += size
        month += 1
    return time.perf_counter() - start


def measure(backend: str, big: int, repeats: int) -> dict[str, object]:
    from app import create_app

    with throwaway_database(backend) as db:
        # The same months in both pots, so both pages have the same shape (chart, table).
        months = -(-big // BATCH)
        load_seconds = fill(db, "small", SMALL, months) + fill(db, "big", big, months)
        tidy_after_load(db)
        os.environ.setdefault("COMMONPOT_INSTANCE_PATH", tempfile.mkdtemp(prefix="cp_bench_web_"))
        app = create_app({"DATABASE_URL": database_url(db), "SECRET_KEY": "bench"})
        client = app.test_client()

        def view(slug: str) -> Callable[[], object]:
            def get() -> object:
                response = client.get(f"/pots/{slug}")
                assert response.status_code == 200, response.status_code
                return response.get_data()

            return get

        first = {slug: median([_time(view(slug))]) for slug in ("small", "big")}
        samples = interleaved({"small": view("small"), "big": view("big")}, repeats, warmup=3)
        row = {
            "backend": backend,
            "version": database_version(db),
            "settings": database_settings(db),
            "load": load_seconds,
            "first_small": first["small"],
            "first_big": first["big"],
            "small": median(samples["small"]),
            "big": median(samples["big"]),
        }
        from app.extensions import EXTENSION_KEY

        app.extensions[EXTENSION_KEY].dispose()
        return row


def _time(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=[*BACKENDS, "both"], default="both")
    parser.add_argument("--big", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    backends = list(BACKENDS) if args.backend == "both" else [args.backend]
    if "postgresql" in backends and (reason := postgres_unavailable()):
        print(f"skipping PostgreSQL: {reason}", file=sys.stderr)
        backends.remove("postgresql")

    results = []
    for backend in backends:
        print(f"{backend}: building pots of {SMALL:,} and {args.big:,} entries ...", flush=True)
        results.append(measure(backend, args.big, args.repeats))

    headers = [
        "backend",
        f"overview, {SMALL:,} entries",
        f"overview, {args.big:,} entries",
        "ratio",
        f"first view, {SMALL:,}",
        f"first view, {args.big:,}",
        "building the pots",
    ]
    rows = [
        [
            str(r["backend"]),
            fmt_seconds(float(r["small"])),  # type: ignore[arg-type]
            fmt_seconds(float(r["big"])),  # type: ignore[arg-type]
            fmt_ratio(float(r["big"]) / float(r["small"])),  # type: ignore[arg-type]
            fmt_seconds(float(r["first_small"])),  # type: ignore[arg-type]
            fmt_seconds(float(r["first_big"])),  # type: ignore[arg-type]
            fmt_seconds(float(r["load"])),  # type: ignore[arg-type]
        ]
        for r in results
    ]
    table = markdown_table(headers, rows)
    print(table)
    worst = max(float(r["big"]) / float(r["small"]) for r in results)  # type: ignore[arg-type]
    verdict = "met" if worst <= TARGET else "NOT met"
    print(f"target: ratio at most {TARGET} -- {verdict}")
    if args.no_write:
        return
    environment = markdown_table(
        ["", ""],
        [
            *environment_rows(("flask", "sqlalchemy", "psycopg", "pygal")),
            *([f"{r['backend']} server", f"{r['version']} ({r['settings']})"] for r in results),
            ["Load average at the end", load_average()],
        ],
    )
    body = f"""
Measured {utc_now()} with `python bench/web_bench.py` (options: --backend sqlite|postgresql|both,
--big N, --repeats N, --no-write).

### Environment

{environment}

### Method

Two GBP pots in a throwaway database: {SMALL:,} entries and {args.big:,} entries, built with
the journal's bulk append (`ledger.batch.append_many`), spread over the same
{-(-args.big // BATCH)} months in both pots (so both pages draw the same chart and table). The app
serves `/pots/<slug>` through Flask's test client (the whole request, no network). *First view*
is each pot's first request in the process (it signs a checkpoint and reads the pot's monthly
totals once); *overview* is the median of {args.repeats} requests per pot after that,
interleaved small / big. The ratio is big / small.

### Results

{table}

Target: the ratio at most {TARGET} (the overview reads maintained balances, a per-process cache
of monthly totals topped up by `(pot_id, seq)` index range, and the five newest entries; it never
scans the ledger). {verdict.capitalize()} in this run.

### Notes

The first view of a big pot after a start pays for one read of its history (one grouped query
over its postings). A table of monthly totals maintained with each append, like
`ledger_balances`, would remove that one-off cost too; it needs a migration.
"""
    write_markdown_section(SECTION, body)


if __name__ == "__main__":
    main()
