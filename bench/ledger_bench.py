"""Ledger benchmarks: append throughput, verification throughput, pot balance reads.

    python bench/ledger_bench.py [--backend sqlite|postgresql|both] [--quick] [--profile]

On each backend (SQLite in a temporary file; PostgreSQL in a throwaway ``cp_bench_*`` database,
created and dropped here; both migrated with ``app.migrate.upgrade``) it measures

1. appending entries, each in its own write transaction (``operations.record``) and in batches of
   100 per transaction (one ``append_many`` call each), against a raw SQLAlchemy
   Core insert of the same rows (one entry row and two posting rows per entry, into plain
   ``bench_raw_entries``/``bench_raw_postings`` tables made for this baseline) in the same
   batching;
2. ``verify_pot`` over a pot of N entries, against SHA-256 alone over the same canonical bytes;
3. reading a pot's balances (``summarise`` in a read unit of work) in a small and a big pot;

prints a table, and replaces the "Ledger" section of ``docs/benchmarks.md`` (``--no-write`` to
leave it alone). The pots are filled through the real code path (``append_many``, 1,000 per
transaction); when both backends run, their pots are filled at the same time in two processes
(nothing is timed then), and every measurement afterwards runs alone.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import itertools
import multiprocessing
import pstats
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import rfc8785

if __package__ in (None, ""):  # run as a script: make the project root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    insert,
    select,
)
from sqlalchemy.orm import Session

from bench.common import (
    BACKENDS,
    best,
    database_settings,
    database_url,
    database_version,
    environment_rows,
    fmt_rate,
    fmt_ratio,
    fmt_seconds,
    interleaved,
    load_average,
    markdown_table,
    median,
    postgres_unavailable,
    rate,
    throwaway_database,
    tidy_after_load,
    utc_now,
    write_markdown_section,
)
from ledger import merkle, operations
from ledger.batch import append_many
from ledger.chain import (
    CanonicalPosting,
    StoredDocuments,
    canonical_document,
    entry_hash,
    format_timestamp,
    parse_json_object,
    stored_bytes,
)
from ledger.db import Database
from ledger.journal import EntryRequest
from ledger.models import Entry, Posting
from ledger.pots import create_pot, get_pot, summarise
from ledger.verify import verify_pot

SECTION = "Ledger"
CURRENCY = "EUR"
ACTOR = "treasurer@example.org"
BATCH = 100  # entries per transaction in the batched append measurement
BUILD_BATCH = 1000  # entries per transaction when filling the pots used by 2 and 3

TARGET_BATCHED = 0.5  # batched ledger appends / batched raw inserts, at least
TARGET_VERIFY = 0.7  # verify_pot / sha256 alone, at least
TARGET_READ = 1.5  # balance read in the big pot / in the small pot, at most


@dataclass(frozen=True)
class Sizes:
    single: int  # entries per timed repeat, one transaction each
    batched: int  # entries per timed repeat, BATCH per transaction
    repeats: int  # timed repeats of the append and verify measurements (best is reported: on a
    # shared machine, enough of them that one falls in a quiet moment)
    verify: int  # entries in the pot verify_pot reads
    small: int  # entries in the small pot of the balance read
    big: int  # entries in the big pot of the balance read
    reads: int  # timed balance reads per pot (the median is reported)


FULL = Sizes(single=300, batched=1000, repeats=11, verify=5000, small=1000, big=100_000, reads=300)
QUICK = Sizes(single=50, batched=200, repeats=3, verify=1000, small=1000, big=10_000, reads=100)


# -- the entries ------------------------------------------------------------------------------


def amount_of(i: int) -> int:
    return 2_500 + (i % 97) * 5


def memo_of(i: int) -> str:
    return f"Monthly contribution #{i}"


def contribution(i: int) -> EntryRequest:
    return EntryRequest(
        kind="contribution",
        memo=memo_of(i),
        actor=ACTOR,
        postings=operations.postings_for("contribution", amount_of(i)),
    )


def new_pot(db: Database, slug: str) -> None:
    with db.write() as session:
        create_pot(session, slug, name=f"Benchmark pot {slug}", currency=CURRENCY)


def contributions(count: int) -> list[EntryRequest]:
    return [contribution(i) for i in range(count)]


def append_batches(db: Database, slug: str, requests: Sequence[EntryRequest], batch: int) -> None:
    """The real batched path: one write transaction and one ``append_many`` per batch."""
    for start in range(0, len(requests), batch):
        with db.write() as session:
            append_many(session, slug, requests[start : start + batch])


def record_singly(db: Database, slug: str, count: int) -> None:
    """One write transaction per entry, through the named-movement API."""
    for i in range(count):
        with db.write() as session:
            operations.record(
                session, slug, "contribution", amount_of(i), memo=memo_of(i), actor=ACTOR
            )


def fill_pots(url: str, plan: Sequence[tuple[str, int]]) -> list[tuple[str, int, float]]:
    """Run in a worker process: append ``n`` entries to each (existing) pot ``slug``."""
    db = Database(url)
    try:
        filled = []
        for slug, n in plan:
            requests = contributions(n)
            started = time.perf_counter()
            append_batches(db, slug, requests, BUILD_BATCH)
            filled.append((slug, n, time.perf_counter() - started))
        return filled
    finally:
        db.dispose()


# -- the raw baseline -------------------------------------------------------------------------

BigId = BigInteger().with_variant(Integer(), "sqlite")


def raw_tables(db: Database) -> tuple[Table, Table]:
    """Plain tables with the columns of ledger_entries and ledger_postings (same types, primary
    and foreign keys; none of the ledger's unique constraints, indexes or triggers)."""
    metadata = MetaData()
    pots = Table("pots", metadata, Column("id", BigId, primary_key=True))  # referenced only
    entries = Table(
        "bench_raw_entries",
        metadata,
        Column("id", BigId, primary_key=True),
        Column("pot_id", BigId, ForeignKey(pots.c.id), nullable=False),
        Column("seq", BigInteger, nullable=False),
        Column("recorded_at", String(27), nullable=False),
        Column("kind", String(32), nullable=False),
        Column("memo", Text, nullable=False),
        Column("actor", String(200), nullable=False),
        Column("external_ref", String(200)),
        Column("idempotency_key", String(200)),
        Column("reverses_seq", BigInteger),
        Column("data_json", Text, nullable=False),
        Column("fingerprint", String(64), nullable=False),
        Column("prev_hash", String(64), nullable=False),
        Column("hash", String(64), nullable=False),
    )
    postings = Table(
        "bench_raw_postings",
        metadata,
        Column("id", BigId, primary_key=True),
        Column("entry_id", BigId, ForeignKey(entries.c.id), nullable=False),
        Column("position", SmallInteger, nullable=False),
        Column("account", String(100), nullable=False),
        Column("amount", BigInteger, nullable=False),
        Column("currency", String(3), nullable=False),
    )
    with db.engine.begin() as conn:
        entries.create(conn)
        postings.create(conn)
    return entries, postings


RawEntry = tuple[dict[str, Any], list[dict[str, Any]]]


def raw_rows(pot_id: int, first_seq: int, count: int) -> list[RawEntry]:
    """Rows shaped like the ledger's, made before the clock starts."""
    rows = []
    prev = "0" * 64
    for i in range(count):
        seq = first_seq + i
        digest = hashlib.sha256(f"raw {pot_id} {seq}".encode()).hexdigest()
        amount = amount_of(i)
        entry = {
            "pot_id": pot_id,
            "seq": seq,
            "recorded_at": format_timestamp(datetime.now(UTC)),
            "kind": "contribution",
            "memo": memo_of(i),
            "actor": ACTOR,
            "external_ref": None,
            "idempotency_key": None,
            "reverses_seq": None,
            "data_json": "{}",
            "fingerprint": digest[::-1],
            "prev_hash": prev,
            "hash": digest,
        }
        postings = [
            {"position": 0, "account": "income", "amount": -amount, "currency": CURRENCY},
            {"position": 1, "account": "available", "amount": amount, "currency": CURRENCY},
        ]
        rows.append((entry, postings))
        prev = digest
    return rows


def raw_insert(db: Database, tables: tuple[Table, Table], rows: list[RawEntry], batch: int) -> None:
    """SQLAlchemy Core: ``batch`` entries per transaction (executemany when batch > 1)."""
    entries, postings = tables
    # Ids come back in any order and are matched by seq: one statement per batch on both
    # databases (the ledger's append_many does the same).
    many = insert(entries).returning(entries.c.seq, entries.c.id)
    for start in range(0, len(rows), batch):
        chunk = rows[start : start + batch]
        with db.engine.begin() as conn:
            if len(chunk) == 1:
                key = conn.execute(insert(entries), chunk[0][0]).inserted_primary_key
                assert key is not None
                ids = [key[0]]
            else:
                by_seq: dict[int, int] = dict(conn.execute(many, [e for e, _ in chunk]).all())
                ids = [by_seq[e["seq"]] for e, _ in chunk]
            conn.execute(
                insert(postings),
                [
                    {**p, "entry_id": eid}
                    for eid, (_, ps) in zip(ids, chunk, strict=True)
                    for p in ps
                ],
            )


# -- results ----------------------------------------------------------------------------------


@dataclass
class Row:
    measurement: str
    ledger: str
    baseline: str
    ratio: float | None
    target: str = "—"
    met: bool | None = None
    spread: str = ""  # how far the ledger's median is from its best: a noise indicator


@dataclass
class BackendResult:
    backend: str
    version: str
    settings: str
    rows: list[Row] = field(default_factory=list)
    shares: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def spread(samples: Sequence[float]) -> str:
    return f"{100 * (median(samples) / best(samples) - 1):.0f} %"


def progress(backend: str, message: str) -> None:
    print(f"[{backend}] {message}", file=sys.stderr, flush=True)


# -- 1. appends -------------------------------------------------------------------------------


def measure_appends(db: Database, backend: str, sizes: Sizes, result: BackendResult) -> None:
    tables = raw_tables(db)
    new_pot(db, "raw-baseline")
    with db.read() as session:
        raw_pot_id = get_pot(session, "raw-baseline").id
    counter = itertools.count(1)
    next_seq = itertools.count(1, 1_000_000)
    state: dict[str, Any] = {}

    def fresh_pot(n: int) -> Callable[[], None]:
        def make() -> None:
            state["slug"] = f"append-{next(counter)}"
            new_pot(db, state["slug"])
            state["requests"] = contributions(n)  # made before the clock starts, like raw rows

        return make

    def fresh_rows(n: int) -> Callable[[], None]:
        def make() -> None:
            state["rows"] = raw_rows(raw_pot_id, next(next_seq), n)

        return make

    for label, n, batch, target in (
        ("single entry per transaction", sizes.single, 1, None),
        (f"{BATCH} entries per transaction", sizes.batched, BATCH, TARGET_BATCHED),
    ):
        progress(backend, f"append: {label}, {n} entries x {sizes.repeats}")

        def ledger(n: int = n, batch: int = batch) -> None:
            if batch == 1:
                record_singly(db, state["slug"], n)
            else:
                append_batches(db, state["slug"], state["requests"][:n], batch)

        def raw(batch: int = batch) -> None:
            raw_insert(db, tables, state["rows"], batch)

        # Warm up (compiled-statement caches, prepared statements) with a few entries.
        warm = min(n, max(batch, 10))
        fresh_pot(warm)()
        ledger(warm)
        fresh_rows(warm)()
        raw()
        times = interleaved(
            {"ledger": ledger, "raw": raw},
            sizes.repeats,
            setup={"ledger": fresh_pot(n), "raw": fresh_rows(n)},
        )
        ledger_rate = rate(n, best(times["ledger"]))
        raw_rate = rate(n, best(times["raw"]))
        ratio = ledger_rate / raw_rate
        result.rows.append(
            Row(
                f"append, {label}",
                fmt_rate(ledger_rate),
                fmt_rate(raw_rate),
                ratio,
                f"≥ {TARGET_BATCHED}" if target else "—",
                (ratio >= target) if target else None,
                spread(times["ledger"]),
            )
        )

    fresh_pot(BATCH)()
    result.shares[f"append, {BATCH} entries in one transaction"] = profile_shares(
        lambda: append_batches(db, state["slug"], state["requests"][:BATCH], BATCH)
    )


# -- 2. verify --------------------------------------------------------------------------------


StoredColumns = tuple[Any, ...]  # the arguments of ledger.chain.stored_bytes after the slug


def stored_entries(db: Database, slug: str) -> tuple[list[dict[str, Any]], list[StoredColumns]]:
    """Each entry's hashed document (rebuilt from its stored columns with
    ``ledger.chain.canonical_document``) and its columns as ``stored_bytes`` takes them, both
    checked against the stored hash."""
    documents, columns = [], []
    with db.read() as session:
        pot = get_pot(session, slug)
        for entry in session.scalars(
            select(Entry).where(Entry.pot_id == pot.id).order_by(Entry.seq)
        ).all():
            postings = [(p.account, p.amount, p.currency) for p in entry.postings]
            document = canonical_document(
                pot=pot.slug,
                seq=entry.seq,
                recorded_at=entry.recorded_at,
                kind=entry.kind,
                memo=entry.memo,
                actor=entry.actor,
                external_ref=entry.external_ref,
                reverses=entry.reverses_seq,
                data=parse_json_object(entry.data_json),
                postings=[CanonicalPosting(*p) for p in postings],
                prev_hash=entry.prev_hash,
            )
            row = (
                entry.seq,
                entry.recorded_at,
                entry.kind,
                entry.memo,
                entry.actor,
                entry.external_ref,
                entry.reverses_seq,
                entry.data_json,
                postings,
                entry.prev_hash,
            )
            if not (
                entry_hash(rfc8785.dumps(document))
                == entry_hash(stored_bytes(pot.slug, *row))
                == entry.hash
            ):
                raise AssertionError(f"entry #{entry.seq}: rebuilt bytes hash differently")
            documents.append(document)
            columns.append(row)
    return documents, columns


def read_columns(session: Session, slug: str) -> Iterator[StoredColumns]:
    """The pot's entries as ``StoredDocuments.bytes_of`` takes them, read in sequence order in
    one query with their postings: the least any verifier of the database reads."""
    pot = get_pot(session, slug)
    rows = session.execute(
        select(
            Entry.seq,
            Entry.recorded_at,
            Entry.kind,
            Entry.memo,
            Entry.actor,
            Entry.external_ref,
            Entry.reverses_seq,
            Entry.data_json,
            Entry.prev_hash,
            Posting.account,
            Posting.amount,
        )
        .join(Posting, Posting.entry_id == Entry.id)
        .where(Entry.pot_id == pot.id)
        .order_by(Entry.seq, Posting.position)
    )
    for _, group in itertools.groupby(rows, key=lambda row: row[0]):
        entry_rows = list(group)
        first = entry_rows[0]
        yield (*first[:8], [(row[9], row[10]) for row in entry_rows], first[8])


def measure_verify(db: Database, backend: str, sizes: Sizes, result: BackendResult) -> None:
    slug = verify_slug(sizes)
    documents, columns = stored_entries(db, slug)
    blobs = [rfc8785.dumps(d) for d in documents]
    n = len(blobs)

    def run_verify() -> None:
        with db.read() as session:
            report = verify_pot(session, get_pot(session, slug))
        if not report.ok or report.entries != n:
            raise AssertionError(f"verify_pot: {report.problems or report.entries}")

    def sha256_only() -> None:
        for blob in blobs:
            hashlib.sha256(blob).hexdigest()

    documents_of_pot = StoredDocuments(slug, CURRENCY)
    plain_columns = [
        (*row[:8], [(account, amount) for account, amount, _ in row[8]], row[9]) for row in columns
    ]

    def bytes_and_sha256() -> None:
        for row in plain_columns:
            hashlib.sha256(documents_of_pot.bytes_of(*row)).hexdigest()

    def bytes_sha256_and_tree() -> None:
        frontier = merkle.Frontier()
        for row in plain_columns:
            canonical = documents_of_pot.bytes_of(*row)
            hashlib.sha256(canonical).hexdigest()
            frontier.append(merkle.leaf_hash(canonical))
        frontier.root()

    def read_bytes_and_sha256() -> None:
        with db.read() as session:
            for row in read_columns(session, slug):
                hashlib.sha256(documents_of_pot.bytes_of(*row)).hexdigest()

    def reference_and_sha256() -> None:
        for document in documents:
            hashlib.sha256(rfc8785.dumps(document)).hexdigest()

    progress(backend, f"verify: {n} entries x {sizes.repeats + 2} (+1 warm-up)")
    times = interleaved(
        {
            "verify": run_verify,
            "sha256": sha256_only,
            "bytes": bytes_and_sha256,
            "tree": bytes_sha256_and_tree,
            "read": read_bytes_and_sha256,
            "reference": reference_and_sha256,
        },
        sizes.repeats + 2,
        warmup=1,
    )
    rates = {name: rate(n, best(samples)) for name, samples in times.items()}
    baseline = fmt_rate(rates["sha256"])
    ratio = rates["verify"] / rates["sha256"]
    result.rows.append(
        Row(
            f"verify_pot, {n:,} entries",
            fmt_rate(rates["verify"]),
            baseline,
            ratio,
            f"≥ {TARGET_VERIFY}",
            ratio >= TARGET_VERIFY,
            spread(times["verify"]),
        )
    )
    for name, label in (
        ("bytes", "(part of verify) canonical bytes from the columns + SHA-256, no database"),
        ("tree", "(part of verify) the same + Merkle leaf and tree hashes, no database"),
        (
            "read",
            "(for comparison) the rows read from the database + canonical bytes + SHA-256",
        ),
        ("reference", "(for comparison) rfc8785 reference encoder + SHA-256, no database"),
    ):
        result.rows.append(
            Row(label, fmt_rate(rates[name]), baseline, rates[name] / rates["sha256"])
        )
    result.notes.append(
        f"The rfc8785 reference encoder and verify's direct writer (`ledger.chain.stored_bytes`) "
        f"produced the same canonical bytes, matching the stored hashes, for all {n:,} entries."
    )
    result.shares[f"verify_pot, {n:,} entries"] = profile_shares(run_verify)


# -- 3. balance reads -------------------------------------------------------------------------


def measure_reads(db: Database, backend: str, sizes: Sizes, result: BackendResult) -> None:
    def reader(slug: str, expected: int) -> Callable[[], None]:
        def read() -> None:
            with db.read() as session:
                summary = summarise(session, get_pot(session, slug))
            if summary.entry_count != expected:
                raise AssertionError(f"{slug}: {summary.entry_count} entries, not {expected}")

        return read

    progress(backend, f"balance read: {sizes.small:,} vs {sizes.big:,} entries x {sizes.reads}")
    times = interleaved(
        {"small": reader("small", sizes.small), "big": reader("big", sizes.big)},
        sizes.reads,
        warmup=10,
    )
    small, big = median(times["small"]), median(times["big"])
    result.rows.append(
        Row(
            f"pot balance read (median): {sizes.big:,} entries vs {sizes.small:,}",
            fmt_seconds(big),
            fmt_seconds(small),
            big / small,
            f"≤ {TARGET_READ}",
            big / small <= TARGET_READ,
            spread(times["big"]),
        )
    )


# -- profiles ---------------------------------------------------------------------------------

CATEGORIES = (
    ("rfc8785 (canonical JSON, pure Python)", ("rfc8785",)),
    ("SQLAlchemy (ORM, Core, result rows)", ("sqlalchemy",)),
    ("database driver, incl. waiting for the server", ("psycopg", "sqlite3")),
    ("hashlib (SHA-256)", ("hashlib",)),
    ("json (stdlib)", ("/json/",)),
    ("ledger: Merkle tree (merkle.py, tree.py)", ("/ledger/merkle.py", "/ledger/tree.py")),
    ("ledger: other code (journal, verify, chain, ...)", ("/ledger/",)),
)
OTHER = "other (benchmark harness, interpreter)"

FunctionKey = tuple[str, int, str]


def _category(key: FunctionKey) -> str:
    filename, _, function = key
    where = f"{filename} {function}"
    for name, needles in CATEGORIES:
        if any(needle in where for needle in needles):
            return name
    return OTHER


def _attribute(
    stats: dict[Any, Any], key: FunctionKey, seconds: float, totals: dict[str, float], depth: int
) -> None:
    """Add ``seconds`` of ``key``'s own time to its category; time of builtins and of stdlib
    functions goes to the category of whoever called them (split in proportion to the calls'
    time), so that e.g. ``BytesIO.write`` called by rfc8785 counts as rfc8785."""
    category = _category(key)
    callers = stats[key][4] if key in stats else {}
    from_callers = sum(entry[2] for entry in callers.values())
    if category != OTHER or depth > 8 or from_callers <= 0:
        totals[category] = totals.get(category, 0.0) + seconds
        return
    for caller, entry in callers.items():
        _attribute(stats, caller, seconds * entry[2] / from_callers, totals, depth + 1)


def profile_shares(fn: Callable[[], object]) -> list[tuple[str, float]]:
    """Each component's share of the time of ``fn`` under cProfile (own time, with builtins and
    stdlib calls counted for their caller)."""
    profile = cProfile.Profile()
    profile.enable()
    fn()
    profile.disable()
    stats = pstats.Stats(profile)
    if PRINT_PROFILES:
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(15)
        pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(30)
        print(out.getvalue(), file=sys.stderr)
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    totals: dict[str, float] = {}
    for key, (_, _, tottime, _, _) in raw.items():
        _attribute(raw, key, tottime, totals, 0)
    whole = sum(totals.values()) or 1.0
    return sorted(((k, v / whole) for k, v in totals.items()), key=lambda kv: -kv[1])


PRINT_PROFILES = False


# -- running ----------------------------------------------------------------------------------


def verify_slug(sizes: Sizes) -> str:
    """The pot verify_pot reads: the small pot of the balance read when the sizes agree."""
    return "small" if sizes.verify == sizes.small else "verify"


def plan_for(sizes: Sizes) -> list[tuple[str, int]]:
    """The pots to fill before measuring, in order."""
    plan = [("small", sizes.small), ("big", sizes.big)]
    if verify_slug(sizes) == "verify":
        plan.insert(0, ("verify", sizes.verify))
    return plan


def fill_all(dbs: dict[str, Database], sizes: Sizes) -> dict[str, list[tuple[str, int, float]]]:
    """Fill every backend's pots, the backends side by side in worker processes."""
    plan = plan_for(sizes)
    for db in dbs.values():
        for slug, _ in plan:
            new_pot(db, slug)
    total = sum(n for _, n in plan)
    for backend in dbs:
        progress(backend, f"filling pots with {total:,} entries ({BUILD_BATCH} per transaction)")
    context = multiprocessing.get_context("spawn")  # no inherited connections
    with ProcessPoolExecutor(max_workers=len(dbs), mp_context=context) as pool:
        futures = {b: pool.submit(fill_pots, database_url(db), plan) for b, db in dbs.items()}
        filled = {b: f.result() for b, f in futures.items()}
    for backend, db in dbs.items():
        tidy_after_load(db)
        seconds = sum(t for _, _, t in filled[backend])
        progress(backend, f"filled in {seconds:.0f} s ({rate(total, seconds):,.0f} entries/s)")
    return filled


def measure(
    dbs: dict[str, Database], sizes: Sizes
) -> tuple[list[BackendResult], dict[str, list[tuple[str, int, float]]]]:
    """Appends first, while the ledger's tables, like the baseline's, hold only the rows the
    measurement makes (measured after the fill, the ledger would insert into indexes of 100,000
    entries and the baseline into nearly empty tables); then the fill, verify and reads."""
    results = {
        b: BackendResult(b, database_version(db), database_settings(db)) for b, db in dbs.items()
    }
    for backend, db in dbs.items():
        measure_appends(db, backend, sizes, results[backend])
    filled = fill_all(dbs, sizes)
    for backend, db in dbs.items():
        measure_verify(db, backend, sizes, results[backend])
        measure_reads(db, backend, sizes, results[backend])
    return list(results.values()), filled


def target_ratio(row: Row) -> str:
    """The ratio, with a third decimal when two would hide which side of its target it is on."""
    ratio = row.ratio or 0.0
    if row.met is not None and ratio >= 0.1:
        return f"{ratio:.3f}"
    return fmt_ratio(ratio)


def results_table(results: Sequence[BackendResult]) -> str:
    rows = [
        [
            r.backend,
            row.measurement,
            row.ledger,
            row.baseline,
            "" if row.ratio is None else target_ratio(row),
            row.target,
            {True: "yes", False: "**no**", None: ""}[row.met],
            row.spread,
        ]
        for r in results
        for row in r.rows
    ]
    headers = ["Backend", "Measurement", "Ledger", "Baseline", "Ratio", "Target", "Met", "Spread"]
    return markdown_table(headers, rows)


def shares_table(results: Sequence[BackendResult]) -> str:
    names = [n for n, _ in CATEGORIES] + [OTHER]
    columns = [
        (r.backend, what, dict(shares)) for r in results for what, shares in r.shares.items()
    ]
    headers = ["Component", *(f"{b}: {what}" for b, what, _ in columns)]
    rows = [
        [name, *(f"{100 * shares.get(name, 0.0):.0f} %" for _, _, shares in columns)]
        for name in names
        if any(shares.get(name, 0.0) >= 0.005 for _, _, shares in columns)
    ]
    return markdown_table(headers, rows)


def targets_summary(results: Sequence[BackendResult]) -> list[str]:
    lines = []
    for r in results:
        for row in r.rows:
            if row.met is not None:
                verdict = "met" if row.met else "NOT met"
                lines.append(
                    f"{r.backend}: {row.measurement}: ratio {target_ratio(row)}, "
                    f"target {row.target}: {verdict}"
                )
    return lines


def reading(results: Sequence[BackendResult]) -> str:
    """What the target rows mean, in words, with this run's figures."""
    paragraphs = []
    for r in results:
        rows = {row.measurement: row for row in r.rows}
        batched = rows.get(f"append, {BATCH} entries per transaction")
        if batched is not None and batched.ratio is not None:
            ledger_us, raw_us = 1e6 / _rate_of(batched.ledger), 1e6 / _rate_of(batched.baseline)
            verdict = (
                "meets the target" if batched.met else f"stays below the target of {TARGET_BATCHED}"
            )
            paragraphs.append(
                f"**{r.backend}, batched append** ({verdict}): `append_many` takes "
                f"{ledger_us:,.0f} µs per entry, the raw insert {raw_us:,.0f} µs. Beyond the raw "
                "rows, each entry is validated; its fingerprint, canonical bytes, hash and Merkle "
                "leaf hash are computed, and so are the tree nodes above it that it completes; "
                "one in eight entries, on average, stores one of them in `ledger_merkle_nodes` "
                "(level 4 and up; its own leaf hash is a column of the entry); and "
                "`ledger_entries` maintains three indexes besides its primary key (pot and "
                "sequence number, unique; kind; time) where the raw table has none, plus three "
                "partial unique indexes (idempotency key, external reference, reversed entry) "
                "that cost nothing for entries without them. Per batch come the pot's lock, one "
                "read of the balances it touches (and of earlier uses of its idempotency keys "
                "and external references, when it has any), one read of the tree's frontier, "
                "and the update of balances and chain head. Each of these is a guarantee of the "
                "ledger (double entry, non-negative balances, idempotency, the hash chain, the "
                "Merkle tree, lookups by sequence, kind and date); none is skipped. The rows go "
                "to SQLite through the driver's own executemany (`ledger.bulk`), to PostgreSQL "
                "as multi-row statements."
            )
        verify = next((row for row in r.rows if row.measurement.startswith("verify_pot")), None)
        tree = next((row for row in r.rows if "Merkle leaf" in row.measurement), None)
        floor = next((row for row in r.rows if "rows read from" in row.measurement), None)
        if verify is not None and tree is not None and floor is not None and verify.ratio:
            verdict = "meets the target" if verify.met else f"stays far below {TARGET_VERIFY}"
            paragraphs.append(
                f"**{r.backend}, verify** ({verdict}): the baseline hashes bytes made beforehand, "
                f"once per entry ({1e6 / _rate_of(verify.baseline):.1f} µs). `verify_pot` must "
                "read each entry and its postings from the database and rebuild the bytes from "
                "the columns (trusting stored bytes would verify nothing), then hash them for "
                "the chain, again as a Merkle leaf, and about once more for the tree: at least "
                "three SHA-256 per entry against the baseline's one, so even with a free "
                "database and free Python the ratio could not pass about 0.33. Reading the rows "
                "and hashing their rebuilt bytes once, the least any verifier of the database "
                f"does, reaches {fmt_ratio(floor.ratio or 0.0)} of the baseline; `verify_pot`, "
                "which also checks every link, leaf, posting and balance and rebuilds the tree, "
                f"reaches {fmt_ratio(verify.ratio)}, that is "
                f"{fmt_ratio(verify.ratio / (floor.ratio or 1.0))} of that least verifier. "
                f"Without the database, verify's bytes and hashes alone reach "
                f"{fmt_ratio(tree.ratio or 0.0)}. A ratio of {TARGET_VERIFY} against hashing "
                "prepared bytes is out of reach for any verifier that reads the database."
            )
    return "\n\n".join(paragraphs)


def _rate_of(cell: str) -> float:
    """The number of a formatted rate such as "1,913 entries/s"."""
    return float(cell.split()[0].replace(",", ""))


def fill_notes(filled: dict[str, list[tuple[str, int, float]]], parallel: bool) -> list[str]:
    notes = []
    for backend, parts in filled.items():
        total = sum(n for _, n, _ in parts)
        seconds = sum(t for _, _, t in parts)
        notes.append(
            f"{backend}: filling the pots ({total:,} entries, append_many, {BUILD_BATCH:,} per "
            f"transaction) took {seconds:.0f} s, {rate(total, seconds):,.0f} entries/s"
            + (" (both backends filling at once on this machine)" if parallel else "")
        )
    return notes


def document(
    results: Sequence[BackendResult],
    filled: dict[str, list[tuple[str, int, float]]],
    sizes: Sizes,
    args: argparse.Namespace,
    elapsed: float,
) -> str:
    command = "python bench/ledger_bench.py" + (" --quick" if args.quick else "")
    if args.backend != "both":
        command += f" --backend {args.backend}"
    if args.big_entries:
        command += f" --big-entries {args.big_entries}"
    env = environment_rows()
    env += [[f"Database ({r.backend})", f"{r.version}; {r.settings}"] for r in results]
    env.append(["Run", f"`{command}`, {elapsed / 60:.1f} min in all"])
    env.append(["Load average", f"{args.load_before} before the run, {load_average()} after"])
    parallel = len(filled) > 1
    verify_where = " (the small pot of the balance read)" if verify_slug(sizes) == "small" else ""
    fill_how = "both backends at once, in two processes" if parallel else "in a worker process"
    bullets = [
        "Each backend gets a new database migrated with `app.migrate.upgrade`: SQLite in a "
        "temporary file, PostgreSQL in a throwaway `cp_bench_*` database dropped afterwards.",
        "**Append** (entries of kind `contribution`, two postings, no idempotency key or "
        f"external reference): *single* = {sizes.single:,} entries, each `operations.record` in "
        f"its own `db.write()`; *batched* = {sizes.batched:,} entries, {BATCH} per `db.write()` "
        "in one `append_many` call (the requests made before the clock starts, like the "
        "baseline's rows). Baseline: SQLAlchemy Core "
        "inserts of the same rows (one entry row + two posting rows, same column types) into "
        "plain `bench_raw_entries` / `bench_raw_postings` tables (primary and foreign keys only, "
        "none of the ledger's unique constraints, indexes or other tables), in the same "
        "transactions (batched: one multi-row `INSERT ... RETURNING seq, id` for the entries, "
        "ids matched to rows by seq, as `append_many` does, then `executemany` for the "
        "postings). Each repeat in a "
        f"fresh pot; best of {sizes.repeats} after a short warm-up, ledger and baseline "
        "alternating.",
        f"**Verify**: `verify_pot` over a pot of {sizes.verify:,} entries{verify_where} in a "
        "read unit of work. Baseline: `hashlib.sha256(b).hexdigest()` over the canonical bytes "
        "of the same entries, prepared beforehand with the `rfc8785` reference encoder (and "
        f"checked against the stored hashes). Best of {sizes.repeats + 2}, all variants "
        "alternating. Extra rows split verify's cost, without the database: canonical bytes "
        "written from the stored columns by `ledger.chain.StoredDocuments` (what verify does) "
        "+ SHA-256; the same + the Merkle leaf and tree hashes (verify's whole hashing work). "
        "For comparison: the least a verifier of the database does (one query for the entries "
        "and their postings in sequence order, the same bytes rebuilt, SHA-256, no check), and "
        "the pure-Python `rfc8785` reference encoder + SHA-256 without the database.",
        "**Balance read**: `summarise(session, get_pot(session, slug))` in `db.read()`, in pots "
        f"of {sizes.small:,} and {sizes.big:,} entries; median of {sizes.reads} alternating "
        "reads after 10 warm-ups each.",
        "The appends are measured first, while the ledger's tables, like the baseline's, "
        "hold only the rows the measurement makes. Then the pots for verify and the balance "
        f"read are filled through the real path (`append_many`, {BUILD_BATCH:,} entries per "
        f"transaction), {fill_how}; then `VACUUM ANALYZE` (PostgreSQL) or `ANALYZE` + WAL "
        "checkpoint (SQLite); every measurement afterwards runs on its own.",
        "*Spread*: how much slower the ledger's median repeat was than its best (balance read: "
        "the big pot's median against its fastest read); a large spread means a busy machine "
        "(see the load average).",
        "*Where the time goes*: each component's share of the time under `cProfile`, for one "
        f"batch of {BATCH} appends and one `verify_pot`: own time of each function, with "
        "builtins and stdlib functions counted for the component that called them. cProfile "
        "inflates Python-heavy parts, so read these as proportions, not timings.",
    ]
    method = "\n".join(f"- {b}" for b in bullets) + "\n"
    targets = "\n".join(f"- {line}" for line in targets_summary(results))
    notes = "\n".join(
        f"- {n}"
        for n in fill_notes(filled, parallel)
        + [n for r in results for n in (f"{r.backend}: {x}" for x in r.notes)]
    )
    return f"""\
_Written by `bench/ledger_bench.py` ({utc_now()}); do not edit by hand. To re-run:_

```sh
.venv/bin/python bench/ledger_bench.py            # full run, both backends (or: make bench)
.venv/bin/python bench/ledger_bench.py --quick    # smaller sizes
# options: --backend sqlite|postgresql|both, --big-entries N, --profile (print cProfile
# listings), --no-write (leave this file alone); PostgreSQL from COMMONPOT_BENCH_POSTGRES_URL
# (else COMMONPOT_TEST_POSTGRES_URL, else postgres@127.0.0.1:5432)
```

This run: `{command}`, {elapsed / 60:.1f} min.

### Environment

{markdown_table(["", ""], env)}

### Method

{method}
### Results

{results_table(results)}

### Targets

{targets}

{reading(results)}

### Where the time goes

{shares_table(results)}

### Notes

{notes}
"""


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=[*BACKENDS, "both"], default="both")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, under 2 minutes")
    parser.add_argument(
        "--big-entries", type=int, default=0, help="entries in the big pot of the balance read"
    )
    parser.add_argument("--profile", action="store_true", help="print cProfile listings")
    parser.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    global PRINT_PROFILES
    args = parse_args(argv)
    PRINT_PROFILES = args.profile
    sizes = QUICK if args.quick else FULL
    if args.big_entries:
        sizes = Sizes(**{**sizes.__dict__, "big": args.big_entries})
    backends = list(BACKENDS) if args.backend == "both" else [args.backend]
    if "postgresql" in backends and (reason := postgres_unavailable()):
        if args.backend == "postgresql":
            print(f"PostgreSQL is not reachable: {reason}", file=sys.stderr)
            return 2
        print(f"PostgreSQL is not reachable, measuring SQLite only: {reason}", file=sys.stderr)
        backends.remove("postgresql")
    args.load_before = load_average()
    started = time.perf_counter()
    with ExitStack() as stack:
        dbs = {b: stack.enter_context(throwaway_database(b)) for b in backends}
        results, filled = measure(dbs, sizes)
    elapsed = time.perf_counter() - started

    print()
    print(results_table(results))
    print()
    print("Targets:")
    for line in targets_summary(results):
        print("  " + line)
    print()
    print("Where the time goes (share of time under cProfile, builtins counted for their caller):")
    print(shares_table(results))
    print()
    for note in fill_notes(filled, len(filled) > 1):
        print(note)
    print(f"Total: {elapsed:.0f} s")
    if not args.no_write:
        write_markdown_section(SECTION, document(results, filled, sizes, args, elapsed))
        print("Updated the Ledger section of docs/benchmarks.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
