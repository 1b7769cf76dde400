"""docs/ledger-format.md is enough to verify a hash with nothing but hashlib and rfc8785."""

import hashlib
import json
import re
from pathlib import Path

import rfc8785

from ledger.chain import CanonicalPosting, canonical_bytes, canonical_document, entry_hash

DOC = (Path(__file__).parent.parent / "docs" / "ledger-format.md").read_text()


def block(name: str) -> str:
    match = re.search(rf"```\w+ {name}\n(.*?)```", DOC, re.S)
    assert match, f"block {name} missing from docs/ledger-format.md"
    return match.group(1).strip()


def test_documented_example_hash_recomputes_with_stdlib_and_rfc8785() -> None:
    entry = json.loads(block("example-entry"))
    canonical = rfc8785.dumps(entry)
    assert canonical.decode("utf-8") == block("example-canonical")
    assert hashlib.sha256(canonical).hexdigest() == block("example-hash")


def test_documented_example_matches_the_service_code() -> None:
    entry = json.loads(block("example-entry"))
    document = canonical_document(
        pot=entry["pot"],
        seq=entry["seq"],
        recorded_at=entry["time"],
        kind=entry["kind"],
        memo=entry["memo"],
        actor=entry["actor"],
        external_ref=entry["external_ref"],
        reverses=entry["reverses"],
        data=entry["data"],
        postings=[CanonicalPosting(**p) for p in entry["postings"]],
        prev_hash=entry["prev_hash"],
    )
    assert document == entry
    assert entry_hash(canonical_bytes(document)) == block("example-hash")
