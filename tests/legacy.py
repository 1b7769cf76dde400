"""Pots as earlier revisions of the schema stored them, for migration tests.

Written with plain SQL and explicit columns (the models describe the latest schema): entries
without ``leaf_hash`` and a Merkle tree with every level, leaves included, in
``ledger_merkle_nodes`` (revisions 0002 to 0008). The ledger's own functions make the bytes and
hashes, so the pot verifies exactly like one appended by the code of that time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import text

from ledger import accounts, journal, merkle, operations
from ledger import pots as ledger_pots
from ledger.chain import canonical_json_text, document_bytes, entry_hash
from ledger.db import Database
from ledger.models import GENESIS_HASH

RECORDED_AT = "2026-11-20T09:00:00.000000Z"


@dataclass(frozen=True)
class Movement:
    kind: str
    amount: int
    external_ref: str | None = None
    idempotency_key: str | None = None
    reverses: int | None = None  # seq of the entry a reversal undoes


def write_pot(
    db: Database, slug: str, movements: Sequence[Movement], *, tree_rows: bool = True
) -> list[bytes]:
    """Create pot ``slug`` (GBP) holding ``movements`` as entries 1..n; returns their leaves.
    Without ``tree_rows``, the pot is as revision 0001 kept it: no Merkle tree at all."""
    with db.write() as session:
        pot = ledger_pots.create_pot(session, slug, name=f"Legacy {slug}", currency="GBP")
        pot_id = pot.id
    tree = merkle.MemoryTree()
    balances: dict[str, int] = defaultdict(int)
    postings_of: dict[int, list[journal.PostingSpec]] = {}
    prev = GENESIS_HASH
    with db.engine.begin() as conn:
        for seq, movement in enumerate(movements, start=1):
            if movement.reverses is None:
                postings = list(operations.postings_for(movement.kind, movement.amount))
            else:
                postings = [
                    journal.PostingSpec(p.account, -p.amount)
                    for p in postings_of[movement.reverses]
                ]
            postings_of[seq] = postings
            request = journal.EntryRequest(
                kind=movement.kind,
                memo=f"{movement.kind} {movement.amount}",
                actor="legacy",
                postings=postings,
                external_ref=movement.external_ref,
                idempotency_key=movement.idempotency_key,
                reverses_seq=movement.reverses,
            )
            canonical = document_bytes(
                pot=slug,
                seq=seq,
                recorded_at=RECORDED_AT,
                kind=request.kind,
                memo=request.memo,
                actor=request.actor,
                external_ref=request.external_ref,
                reverses=request.reverses_seq,
                data={},
                postings=[(p.account, p.amount, "GBP") for p in postings],
                prev_hash=prev,
            )
            digest = entry_hash(canonical)
            entry_id = conn.execute(
                text(
                    "INSERT INTO ledger_entries (pot_id, seq, recorded_at, kind, memo, actor, "
                    "external_ref, idempotency_key, reverses_seq, data_json, fingerprint, "
                    "prev_hash, hash) VALUES (:pot, :seq, :at, :kind, :memo, :actor, :ref, "
                    ":key, :rev, '{}', :fp, :prev, :hash) RETURNING id"
                ),
                {
                    "pot": pot_id,
                    "seq": seq,
                    "at": RECORDED_AT,
                    "kind": request.kind,
                    "memo": request.memo,
                    "actor": request.actor,
                    "ref": request.external_ref,
                    "key": request.idempotency_key,
                    "rev": request.reverses_seq,
                    "fp": journal.fingerprint(request, canonical_json_text({})),
                    "prev": prev,
                    "hash": digest,
                },
            ).scalar_one()
            for position, posting in enumerate(postings):
                conn.execute(
                    text(
                        "INSERT INTO ledger_postings (entry_id, position, account, amount, "
                        "currency) VALUES (:entry, :position, :account, :amount, 'GBP')"
                    ),
                    {
                        "entry": entry_id,
                        "position": position,
                        "account": posting.account,
                        "amount": posting.amount,
                    },
                )
                balances[posting.account] += posting.amount
            tree.append(canonical)
            prev = digest
        nodes = [
            {"pot": pot_id, "level": level, "idx": index, "hash": tree.get_node(level, index)}
            for level in range(tree.size.bit_length())
            for index in range(tree.size >> level)
        ]
        if tree_rows:
            conn.execute(
                text(
                    "INSERT INTO ledger_merkle_nodes (pot_id, level, idx, hash) "
                    "VALUES (:pot, :level, :idx, :hash)"
                ),
                nodes,
            )
        for account, amount in balances.items():
            conn.execute(
                text(
                    "INSERT INTO ledger_balances (pot_id, account, amount, non_negative) "
                    "VALUES (:pot, :account, :amount, :guarded)"
                ),
                {
                    "pot": pot_id,
                    "account": account,
                    "amount": amount,
                    "guarded": accounts.is_non_negative(account),
                },
            )
        conn.execute(
            text("UPDATE pots SET head_seq = :seq, head_hash = :hash WHERE id = :pot"),
            {"seq": len(movements), "hash": prev, "pot": pot_id},
        )
    return [tree.get_node(0, i) for i in range(tree.size)]
