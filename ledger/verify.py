"""Verification from scratch: every hash, every link, every balance.

Reads a pot's entries in sequence order (streamed, never all in memory), recomputes each entry's
canonical bytes and hash from the stored columns, checks the chain links and that postings balance,
replays the balances (checking the non-negative rule at every step) and finally compares them and
the chain head with the maintained values.
"""

from __future__ import annotations

import itertools
from collections.abc import Generator, Iterator
from contextlib import closing
from dataclasses import dataclass, field

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from ledger import accounts, merkle, tree
from ledger.chain import canonical_bytes, entry_hash, stored_document
from ledger.models import GENESIS_HASH, Balance, Entry, Posting, Pot

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


def _replay(
    pot: Pot,
    stream: Iterator[tuple[Row, list[Row]]],
    report: VerifyReport,
    balances: dict[str, int],
    frontier: merkle.Frontier,
) -> None:
    expected_seq = 1
    prev_hash = GENESIS_HASH
    for entry_row, posting_rows in stream:
        seq = entry_row.seq
        if seq != expected_seq:
            report.fail(f"entry #{expected_seq} is missing (found #{seq} next)", expected_seq)
            break
        problem = _check_entry(pot, entry_row, posting_rows, prev_hash, frontier)
        if problem is not None:
            report.fail(f"entry #{seq}: {problem}", seq)
            break
        for posting in posting_rows:
            balances[posting.account] = balances.get(posting.account, 0) + posting.amount
            if accounts.is_non_negative(posting.account) and balances[posting.account] < 0:
                report.fail(f"entry #{seq}: {posting.account} goes below zero", seq)
        if not report.ok:
            break
        prev_hash = entry_row.hash
        expected_seq += 1
        report.entries += 1
    report.last_hash = prev_hash


def _stream(session: Session, pot: Pot) -> Generator[tuple[Row, list[Row]], None, None]:
    """Entries in sequence order, each with its postings, read in batches."""
    rows = session.execute(
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
            Posting.position,
            Posting.account,
            Posting.amount,
            Posting.currency,
        )
        .outerjoin(Posting, Posting.entry_id == Entry.id)
        .where(Entry.pot_id == pot.id)
        .order_by(Entry.seq, Posting.position)
        .execution_options(yield_per=BATCH)
    )
    try:
        for _, group in itertools.groupby(rows, key=lambda r: r.seq):
            members = list(group)
            yield members[0], [m for m in members if m.position is not None]
    finally:
        rows.close()


def _check_entry(
    pot: Pot, row: Row, postings: list[Row], prev_hash: str, frontier: merkle.Frontier
) -> str | None:
    if row.prev_hash != prev_hash:
        return "its prev_hash does not match the hash of the entry before it"
    if len(postings) < 2:
        return "it has fewer than two postings"
    if [p.position for p in postings] != list(range(len(postings))):
        return "its postings are not numbered 0..n-1"
    if any(p.currency != pot.currency for p in postings):
        return f"a posting is not in the pot's currency {pot.currency}"
    if sum(p.amount for p in postings) != 0:
        return "its postings do not sum to zero"
    try:
        canonical = canonical_bytes(stored_document(pot.slug, row, postings))
    except ValueError:
        return "its data is not a JSON object"
    if entry_hash(canonical) != row.hash:
        return "its stored hash does not match its contents"
    frontier.append(merkle.leaf_hash(canonical))
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
