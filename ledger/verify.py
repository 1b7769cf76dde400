"""Verification from scratch: every hash, every link, every balance.

Reads a pot's entries in sequence order (streamed, never all in memory), recomputes each entry's
canonical bytes and hash from the stored columns, checks the chain links and that postings balance,
replays the balances (checking the non-negative rule at every step) and finally compares them and
the chain head with the maintained values.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from typing import cast

from sqlalchemy import and_, literal_column, select
from sqlalchemy.orm import Session, aliased

from ledger import accounts, merkle, tree
from ledger.chain import StoredDocuments, entry_hash
from ledger.models import GENESIS_HASH, Balance, Entry, MerkleNode, Posting, Pot

BATCH = 2000


@dataclass
class VerifyReport:
    pot: str
    entries: int = 0
    first_bad_seq: int | None = None
    problems: list[str] = field(default_factory=list)
    balances: dict[str, int] = field(default_factory=dict)
    last_hash: str = GENESIS_HASH

    @property
    def ok(self) -> bool:
        return not self.problems

    def fail(self, problem: str, seq: int | None = None) -> None:
        if seq is not None and self.first_bad_seq is None:
            self.first_bad_seq = seq
        self.problems.append(problem)


def verify_pot(session: Session, pot: Pot) -> VerifyReport:
    report = VerifyReport(pot=pot.slug)
    balances: dict[str, int] = {}
    # closing(): leaving the loop early must close the (server-side) cursor at once.
    frontier = merkle.Frontier()
    with closing(_stream(session, pot)) as stream:
        _replay(pot, stream, report, balances, frontier)
    report.balances = balances
    if report.ok:
        _check_maintained(session, pot, report)
    if report.ok and frontier.size and frontier.root() != tree.root(session, pot.id, frontier.size):
        report.fail("the stored Merkle tree does not match the entries")
    return report


# Columns of an entry row as _stream yields it, and of each of its postings.
# The last two: the entry's own leaf hash (from migration 0009), the level-0 tree row of an entry
# recorded before it.
EntryRow = tuple[
    int, str, str, str, str, str | None, int | None, str, str, str, bytes | None, bytes | None
]
PostingRow = tuple[int, str, int, str]  # position, account, amount, currency


def _replay(
    pot: Pot,
    stream: Iterator[tuple[EntryRow, list[PostingRow]]],
    report: VerifyReport,
    balances: dict[str, int],
    frontier: merkle.Frontier,
) -> None:
    expected_seq = 1
    prev_hash = GENESIS_HASH
    guarded: dict[str, bool] = {}  # account -> must never go below zero
    currency = pot.currency  # read once, not per entry
    documents = StoredDocuments(pot.slug, currency)
    own_leaves = False  # entries carry their leaf hash from the first one that does (0009) on
    for entry_row, posting_rows in stream:
        seq = entry_row[0]
        if seq != expected_seq:
            report.fail(f"entry #{expected_seq} is missing (found #{seq} next)", expected_seq)
            break
        own_leaves = own_leaves or entry_row[10] is not None
        if own_leaves and entry_row[10] is None:
            report.fail(f"entry #{seq}: its Merkle leaf hash is missing", seq)
            break
        problem = _check_entry(documents, entry_row, posting_rows, prev_hash, frontier)
        if problem is not None:
            report.fail(f"entry #{seq}: {problem}", seq)
            break
        for _, account, amount, _ in posting_rows:
            balance = balances[account] = balances.get(account, 0) + amount
            if balance < 0:
                non_negative = guarded.get(account)
                if non_negative is None:
                    non_negative = guarded[account] = accounts.is_non_negative(account)
                if non_negative:
                    report.fail(f"entry #{seq}: {account} goes below zero", seq)
        if not report.ok:
            break
        prev_hash = entry_row[9]
        expected_seq += 1
        report.entries += 1
    report.last_hash = prev_hash


def _stream(session: Session, pot: Pot) -> Generator[tuple[EntryRow, list[PostingRow]], None, None]:
    """Entries in sequence order, each with its postings, read in batches as plain tuples
    (Core rows through the session's connection: no ORM objects, same transaction)."""
    legacy = aliased(MerkleNode)
    query = (
        select(
            Entry.id,
            Entry.seq,
            Entry.recorded_at,
            Entry.kind,
            Entry.memo,
            Entry.actor,
            Entry.external_ref,
            Entry.reverses_seq,
            Entry.data_json,
            Entry.prev_hash,
            Entry.hash,
            Entry.leaf_hash,
            legacy.hash,
            Posting.position,
            Posting.account,
            Posting.amount,
            Posting.currency,
        )
        .select_from(Entry)
        .outerjoin(
            legacy,
            and_(
                legacy.pot_id == Entry.pot_id,
                legacy.level == 0,
                legacy.idx == Entry.seq - literal_column("1"),
            ),
        )
        .outerjoin(Posting, Posting.entry_id == Entry.id)
        .where(Entry.pot_id == pot.id)
        .order_by(Entry.seq, Posting.position)
    )
    rows = session.connection().execution_options(yield_per=BATCH).execute(query)
    try:
        current_id: int | None = None
        entry: EntryRow | None = None
        postings: list[PostingRow] = []
        for row in rows:
            entry_id = row[0]
            if entry_id != current_id:
                if entry is not None:
                    yield entry, postings
                current_id, entry, postings = entry_id, cast(EntryRow, row[1:13]), []
            if row[13] is not None:
                postings.append(cast(PostingRow, row[13:]))
        if entry is not None:
            yield entry, postings
    finally:
        rows.close()


def _check_entry(
    documents: StoredDocuments,
    row: EntryRow,
    postings: list[PostingRow],
    prev_hash: str,
    frontier: merkle.Frontier,
) -> str | None:
    seq, recorded_at, kind, memo, actor, external_ref, reverses_seq, data_json, prev, digest = row[
        :10
    ]
    if prev != prev_hash:
        return "its prev_hash does not match the hash of the entry before it"
    if len(postings) < 2:
        return "it has fewer than two postings"
    if [p[0] for p in postings] != list(range(len(postings))):
        return "its postings are not numbered 0..n-1"
    currency = documents.currency
    if any(p[3] != currency for p in postings):
        return f"a posting is not in the pot's currency {currency}"
    if sum(p[2] for p in postings) != 0:
        return "its postings do not sum to zero"
    try:
        canonical = documents.bytes_of(
            seq,
            recorded_at,
            kind,
            memo,
            actor,
            external_ref,
            reverses_seq,
            data_json,
            [(account, amount) for _, account, amount, _ in postings],
            prev,
        )
    except ValueError:
        return "its data is not a JSON object"
    if entry_hash(canonical) != digest:
        return "its stored hash does not match its contents"
    computed = merkle.leaf_hash(canonical)
    problem = _leaf_problem(row[10], row[11], computed)
    if problem is None:
        frontier.append(computed)
    return problem


def _leaf_problem(own: bytes | None, legacy: bytes | None, computed: bytes) -> str | None:
    """What is wrong with where the entry's Merkle leaf is stored: on the entry itself (from
    migration 0009), or as a level-0 tree row (entries recorded before it), never both."""
    if own is not None and legacy is not None:
        return "a level-0 tree row stands beside its own Merkle leaf hash"
    stored = own if own is not None else legacy
    if stored is None:
        return "its Merkle leaf hash is stored nowhere"
    if bytes(stored) != computed:
        return "its stored Merkle leaf hash does not match its contents"
    return None


def _check_maintained(session: Session, pot: Pot, report: VerifyReport) -> None:
    if pot.head_seq != report.entries or pot.head_hash != report.last_hash:
        report.fail(
            f"the pot's recorded head (#{pot.head_seq}) does not match the chain "
            f"(#{report.entries})"
        )
    maintained = {
        b.account: b.amount
        for b in session.scalars(select(Balance).where(Balance.pot_id == pot.id))
    }
    for account in sorted(set(maintained) | set(report.balances)):
        kept, computed = maintained.get(account, 0), report.balances.get(account, 0)
        if kept != computed:
            report.fail(
                f"maintained balance of {account} is {kept} but the entries add up to {computed}"
            )
