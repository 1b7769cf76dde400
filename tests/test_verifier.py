"""``commonpot-verify``, run as a member would: its console script in a subprocess, against export
files and against a real HTTP server (werkzeug serving ``create_app`` on a random local port).

The verifier must stand alone (only the standard library, ``rfc8785`` and ``cryptography``), and
must catch what a hash chain alone cannot: history rewritten by someone with database access who
recomputed every hash, holding nothing but a checkpoint saved earlier.
"""

from __future__ import annotations

import ast
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import threading
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select, update
from test_checkpoints import KEY_TEXT, unprotect
from werkzeug.serving import make_server

import commonpot_verify
from app.signing import KEY_ENV
from commonpot_verify import merkle as standalone
from helpers import dispose_app, invoke_cli, make_app
from ledger import merkle, operations, tree
from ledger import pots as ledger_pots
from ledger.chain import canonical_bytes, entry_hash, stored_document
from ledger.checkpoints import Checkpoint
from ledger.db import Database
from ledger.journal import reverse
from ledger.models import Balance, Entry, MerkleNode, Pot
from ledger.verify import verify_pot
from tamper import execute

VERIFY = Path(sys.executable).parent / "commonpot-verify"
PACKAGE = Path(commonpot_verify.__file__).parent
PROJECT = PACKAGE.parent
VECTORS = sorted((Path(__file__).parent / "fixtures" / "merkle-testdata").rglob("*.json"))
OK, FAILED, USAGE, NETWORK = 0, 1, 2, 3


def run_verify(*args: str) -> subprocess.CompletedProcess[str]:
    if not VERIFY.exists():
        pytest.fail("the commonpot-verify script is not installed: run `make install`")
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}  # 127.0.0.1 direct
    return subprocess.run(
        [str(VERIFY), *args], capture_output=True, text=True, timeout=120, env=env, check=False
    )


def expect(result: subprocess.CompletedProcess[str], code: int, says: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == code, output
    assert says in output, output


def community(db: Database, slug: str) -> None:
    """A community of practice's pot in GBP: money in, a funded proposal, money out."""
    with db.write() as session:

        def rec(kind: str, pence: int, memo: str, **options: Any) -> None:
            operations.record(
                session, slug, kind, pence, memo=memo, actor="cli:treasurer", **options
            )

        rec("contribution", 500_000, "Founding grant from the Lankelly Foundation")
        rec("contribution", 12_000, "Monthly membership: Leeds Practice Circle — £120")
        rec("allocation", 150_000, "Fellowship for Amina (proposal 1)", commitment="proposal:1")
        rec("payout", 75_000, "Fellowship, first half", commitment="proposal:1")
        rec("fee", 350, "Payment processor fee")
        rec("release", 75_000, "Fellowship ended early", commitment="proposal:1")
        rec("payout", 20_000, "Venue hire, Bristol gathering")
    with db.write() as session:
        reverse(session, slug, 5, memo="Fee refunded by the processor", actor="cli:treasurer")


def more(db: Database, slug: str, count: int) -> None:
    with db.write() as session:
        for i in range(count):
            operations.record(session, slug, "contribution", 3_000, memo=f"Dues {i}", actor="t")


def export(db: Database, tmp_path: Path, slug: str, name: str = "export.jsonl") -> Path:
    code, output = invoke_cli(db, tmp_path, "ledger", "export", slug, "--format", "jsonl")
    assert code == 0, output
    path = tmp_path / name
    path.write_text(output, encoding="utf-8")
    return path


@contextmanager
def serving(db: Database, tmp_path: Path) -> Iterator[str]:
    application = make_app(db, tmp_path)
    application.config[KEY_ENV] = KEY_TEXT
    server = make_server("127.0.0.1", 0, application, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
        dispose_app(application)


def download(url: str, path: Path) -> Path:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=30) as response:
        path.write_bytes(response.read())
    return path


def pinned_key(base: str, slug: str, path: Path) -> Path:
    download(f"{base}/api/v1/keys", path)
    items = json.loads(path.read_text())["items"]
    path.write_text(next(i["verifier_key"] for i in items if i["pot"] == slug) + "\n")
    return path


# -- standing alone ------------------------------------------------------------------------------

ALLOWED_IMPORTS = {"rfc8785", "cryptography", "commonpot_verify"}


def test_the_verifier_imports_only_the_standard_library_rfc8785_and_cryptography() -> None:
    for path in sorted(PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            for name in names:
                top = name.split(".")[0]
                assert top in sys.stdlib_module_names or top in ALLOWED_IMPORTS, (path.name, name)


def test_the_verifier_runs_where_the_service_cannot_be_imported(
    db: Database, pot_slug: str, tmp_path: Path
) -> None:
    community(db, pot_slug)
    exported = export(db, tmp_path, pot_slug)
    copy = tmp_path / "isolated"
    shutil.copytree(PACKAGE, copy / "commonpot_verify")
    # -I: no environment, no script directory; -S: no site, so no .pth file makes the
    # project importable. The path holds the copy and the third-party packages, nothing else.
    site = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    program = (
        "import sys, importlib\n"
        f"sys.path[:] = [{str(copy)!r}, *{site!r}, *[p for p in sys.path if 'site-packages' "
        "not in p]]\n"
        "for name in ('app', 'ledger', 'integrations'):\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except ImportError:\n"
        "        pass\n"
        "    else:\n"
        "        raise SystemExit(f'{name} is importable: the test is not isolated')\n"
        "from commonpot_verify.cli import main\n"
        f"code = main(['ledger', '--export', {str(exported)!r}])\n"
        "loaded = sorted({m.split('.')[0] for m in sys.modules})\n"
        "forbidden = {'app', 'ledger', 'integrations', 'flask', 'sqlalchemy'}\n"
        "assert not forbidden & set(loaded), loaded\n"
        "raise SystemExit(code)\n"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", program],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )
    expect(result, OK, "8 entries checked")


def test_the_merkle_verification_is_a_verbatim_copy() -> None:
    def section(text: str) -> str:
        start = text.index("# --- BEGIN STANDALONE VERIFIER")
        return text[start : text.index("# --- END STANDALONE VERIFIER")]

    service = (PROJECT / "ledger" / "merkle.py").read_text(encoding="utf-8")
    assert section((PACKAGE / "merkle.py").read_text(encoding="utf-8")) == section(service)


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.parent.name + "/" + p.name)
def test_the_copy_passes_the_rfc_9162_vectors(path: Path) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))

    def b(value: str) -> bytes:
        return base64.b64decode(value)

    proof = [b(p) for p in data["proof"] or []]
    if path.relative_to(VECTORS[0].parents[2]).parts[0] == "inclusion":
        args: tuple[Any, ...] = (b(data["leafHash"]), data["leafIdx"], data["treeSize"], proof)
        check: Callable[..., None] = standalone.verify_inclusion
        args += (b(data["root"]),)
    else:
        args = (data["size1"], data["size2"], b(data["root1"]), b(data["root2"]), proof)
        check = standalone.verify_consistency
    if data["wantErr"]:
        with pytest.raises(standalone.ProofError):
            check(*args)
    else:
        check(*args)


def test_the_root_builder_matches_the_rfc_roots() -> None:
    builder = standalone.RootBuilder()
    leaves = [merkle.leaf_hash(bytes([i]) * i) for i in range(70)]
    for count, leaf in enumerate(leaves, start=1):
        builder.append(leaf)
        assert builder.root() == merkle.root_from_leaves(leaves[:count])


# -- offline: export files ------------------------------------------------------------------------


def rehash(records: list[dict[str, Any]]) -> None:
    """Recompute every hash and link, as a forger who knows the format would."""
    previous = "0" * 64
    for record in records:
        record["prev_hash"] = previous
        document = {k: v for k, v in record.items() if k != "hash"} | {"v": 1}
        record["hash"] = previous = entry_hash(canonical_bytes(document))


def forged(path: Path, change: Callable[[list[dict[str, Any]]], None], *, chain: bool) -> Path:
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    change(records)
    if chain:
        rehash(records)
    out = path.with_name(f"forged-{id(change)}.jsonl")
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")
    return out


def test_an_honest_export_verifies(db: Database, pot_slug: str, tmp_path: Path) -> None:
    community(db, pot_slug)
    result = run_verify("ledger", "--export", str(export(db, tmp_path, pot_slug)))
    expect(result, OK, "OK: pot")
    with db.read() as session:
        pot = ledger_pots.get_pot(session, pot_slug)
        root = base64.b64encode(tree.root(session, pot.id, 8)).decode()
    assert f"Merkle root of all 8 entries: {root}" in result.stdout


def _set(seq: int, **values: Any) -> Callable[[list[dict[str, Any]]], None]:
    def change(records: list[dict[str, Any]]) -> None:
        records[seq - 1].update(values)

    return change


def _amounts(seq: int, *amounts: Any) -> Callable[[list[dict[str, Any]]], None]:
    def change(records: list[dict[str, Any]]) -> None:
        for posting, amount in zip(records[seq - 1]["postings"], amounts, strict=True):
            posting["amount"] = amount

    return change


def test_tampered_exports_fail(db: Database, pot_slug: str, tmp_path: Path) -> None:
    community(db, pot_slug)
    honest = export(db, tmp_path, pot_slug)
    cases: list[tuple[Callable[[list[dict[str, Any]]], None], bool, str]] = [
        (_set(3, memo="Fellowship for a friend"), False, "entry #3's hash does not match"),
        (lambda records: records.pop(3), False, "entry #4 is missing"),
        (_set(2, prev_hash="1" * 64), False, "entry #2 does not link"),
        # Forgers who recompute the chain are still caught by the rules of money:
        (_amounts(7, -600_000, 600_000), True, "takes available below zero"),
        (_amounts(2, -12_000, 12_001), True, "do not add up to zero"),
        (_amounts(2, -1.5, 1.5), True, "'amount' must be int"),
        (_amounts(2, True, -1), True, "'amount' must be int"),
        (lambda r: r[1]["postings"][1].update(currency="EUR"), True, "the pot's currency is GBP"),
    ]
    for change, chain, says in cases:
        expect(run_verify("ledger", "--export", str(forged(honest, change, chain=chain))), 1, says)


def test_input_errors_and_unreachable_servers(db: Database, pot_slug: str, tmp_path: Path) -> None:
    community(db, pot_slug)
    honest = export(db, tmp_path, pot_slug)
    not_json = tmp_path / "bad.jsonl"
    not_json.write_text("{not json\n")
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    cases = [
        (["ledger", "--export", str(tmp_path / "missing.jsonl")], USAGE, "cannot read the export"),
        (["ledger", "--export", str(not_json)], USAGE, "line 1 of"),
        (["ledger", "--server", "ftp://example.org", "--pot", "x"], USAGE, "http://"),
        (["checkpoint", "--export", str(honest), "--checkpoint", str(honest), "--key", "a+b+c"],
         USAGE, "not a valid verifier key"),
        (["ledger"], USAGE, "one of the arguments --export --server is required"),
        (["ledger", "--server", f"http://127.0.0.1:{closed}", "--pot", "x"], NETWORK,
         "could not reach"),
    ]  # fmt: skip
    for args, code, says in cases:
        expect(run_verify(*args), code, says)


# -- online: a real server ------------------------------------------------------------------------


def test_a_member_checks_a_live_server(db: Database, pot_slug: str, tmp_path: Path) -> None:
    community(db, pot_slug)
    with serving(db, tmp_path) as base:
        key = pinned_key(base, pot_slug, tmp_path / "pinned.key")
        saved = download(f"{base}/api/v1/pots/{pot_slug}/checkpoint", tmp_path / "saved.txt")
        server = ["--server", base]
        pinned = ["--key", str(key)]
        expect(run_verify("ledger", *server, "--pot", pot_slug), OK, "match what the server")
        expect(
            run_verify("checkpoint", *server, "--checkpoint", str(saved), *pinned),
            OK,
            "Its first 8 entries give exactly the root the checkpoint signed",
        )
        for seq in (1, 5, 8):
            args = ["inclusion", *server, "--checkpoint", str(saved), *pinned, "--seq", str(seq)]
            expect(run_verify(*args), OK, f"OK: entry #{seq} is in the ledger")
        expect(
            run_verify("inclusion", *server, "--checkpoint", str(saved), *pinned, "--seq", "9"),
            USAGE,
            "newer than your checkpoint",
        )
        more(db, pot_slug, 5)
        newer = tmp_path / "newer.txt"
        args = ["consistency", *server, "--checkpoint", str(saved), *pinned, "--save", str(newer)]
        expect(run_verify(*args), OK, "the ledger now has 13 entries")
        assert newer.read_text().split("\n")[1] == "13"
        again = ["consistency", *server, "--checkpoint", str(newer), "--key", key.read_text()]
        expect(run_verify(*again), OK, "first 13 are exactly those")
        expect(run_verify("ledger", *server, "--pot", "no-such-pot"), NETWORK, "404")
        other = tmp_path / "other.key"
        other.write_text(key.read_text().replace(pot_slug, "another-pot"))
        expect(
            run_verify("checkpoint", *server, "--checkpoint", str(saved), "--key", str(other)),
            USAGE,
            "does not match its name and public key",
        )


def forge_history(db: Database, slug: str) -> None:
    """Rewrite entry #2 (£120 becomes £20) and recompute everything that depends on it: hashes,
    chain, balances, the pot's head and its whole Merkle tree."""
    unprotect(db, "ledger_entries", "ledger_postings", "ledger_merkle_nodes", "ledger_checkpoints")
    with db.write() as session:
        pot = session.scalars(select(Pot).where(Pot.slug == slug)).one()
        entries = list(
            session.scalars(select(Entry).where(Entry.pot_id == pot.id).order_by(Entry.seq))
        )
        entries[1].memo = "Monthly membership: Leeds Practice Circle — £20"
        entries[1].postings[0].amount, entries[1].postings[1].amount = -2_000, 2_000
        for account, delta in (("income", 10_000), ("available", -10_000)):
            session.execute(
                update(Balance)
                .where(Balance.pot_id == pot.id, Balance.account == account)
                .values(amount=Balance.amount + delta)
            )
        session.execute(delete(MerkleNode).where(MerkleNode.pot_id == pot.id))
        forged_tree, previous = merkle.MemoryTree(), "0" * 64
        for entry in entries:
            entry.prev_hash = previous
            canonical = canonical_bytes(stored_document(slug, entry, entry.postings))
            entry.hash = previous = entry_hash(canonical)
            entry.leaf_hash = merkle.leaf_hash(canonical)
            forged_tree.append(canonical)
            session.flush()
        # The leaves live on the entries, the nodes below level 4 are computed from them.
        for level in range(tree.LOWEST_STORED, forged_tree.size.bit_length()):
            for index in range(forged_tree.size >> level):
                node = forged_tree.get_node(level, index)
                session.add(MerkleNode(pot_id=pot.id, level=level, idx=index, hash=node))
        pot.head_hash = previous


def forget_checkpoints(db: Database, slug: str) -> None:
    """Delete the pot's stored checkpoints, so that the server signs whatever it holds."""
    unprotect(db, "ledger_checkpoints")
    with db.write() as session:
        pot = session.scalars(select(Pot).where(Pot.slug == slug)).one()
        session.execute(delete(Checkpoint).where(Checkpoint.pot_id == pot.id))


def test_rewritten_history_is_caught_with_an_earlier_checkpoint(
    fresh_db: Database, tmp_path: Path
) -> None:
    slug = "civic-practice-fund"
    with fresh_db.write() as session:
        ledger_pots.create_pot(session, slug, name="Civic Practice Network", currency="GBP")
    community(fresh_db, slug)
    with serving(fresh_db, tmp_path) as base:
        key = str(pinned_key(base, slug, tmp_path / "pinned.key"))
        saved = str(download(f"{base}/api/v1/pots/{slug}/checkpoint", tmp_path / "saved.txt"))
        more(fresh_db, slug, 3)
        consistency = ["consistency", "--server", base, "--checkpoint", saved, "--key", key]
        expect(run_verify(*consistency), OK, "entries were only added")

        # The attacker rewrites entry #2. The server still serves the checkpoint it signed for
        # 11 entries, but its proofs now come from the forged tree and do not verify.
        forge_history(fresh_db, slug)
        expect(run_verify(*consistency), FAILED, "HISTORY REWRITTEN")
        # Once the ledger grows, the server refuses to sign the forged tree, and the verifier
        # reports the refusal as a failure.
        more(fresh_db, slug, 1)
        expect(run_verify(*consistency), FAILED, "not an append-only extension")

        # Now the attacker also deletes the checkpoints, and the server signs the forgery.
        forget_checkpoints(fresh_db, slug)
        with fresh_db.read() as session:  # the forgery is consistent in itself...
            assert verify_pot(session, ledger_pots.get_pot(session, slug)).ok
        expect(run_verify("ledger", "--server", base, "--pot", slug), OK, "12 entries checked")
        # ...but not with the checkpoint the member saved before.
        expect(run_verify(*consistency), FAILED, "HISTORY REWRITTEN")
        expect(
            run_verify("checkpoint", "--server", base, "--checkpoint", saved, "--key", key),
            FAILED,
            "history was rewritten",
        )
        expect(
            run_verify("inclusion", "--server", base, "--checkpoint", saved, "--key", key,
                       "--seq", "2"),
            FAILED,
            "is NOT in the ledger your checkpoint signs",
        )  # fmt: skip
    exported = str(export(fresh_db, tmp_path, slug))
    offline = ["consistency", "--export", exported, "--checkpoint", saved, "--key", key]
    expect(run_verify(*offline), FAILED, "HISTORY REWRITTEN")
    execute(fresh_db, "SELECT 1")  # the database is still usable after the attack
