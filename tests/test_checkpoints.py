"""Signed checkpoints (C2SP tlog-checkpoint) and the signing key, on SQLite and PostgreSQL.

The signature and key id are checked here with ``cryptography`` and ``hashlib`` directly, from
the specification, not with the code that made them. A checkpoint is never signed for a tree
that does not extend the last one signed, whatever an attacker did to the database.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from app.settings import ConfigurationError
from app.signing import KEY_ENV, encode_private_key, load_signing_key, log_origin, signer
from commonpot_verify.note import SignatureError, VerifierKey, open_checkpoint
from helpers import dispose_app, make_app
from ledger import checkpoints, merkle, operations
from ledger import pots as ledger_pots
from ledger.chain import canonical_bytes, stored_document
from ledger.db import Database
from ledger.models import Entry
from tamper import execute

API = "/api/v1"
PROBLEM_JSON = "application/problem+json"
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
KEY_TEXT = encode_private_key(KEY)
PUBLIC = KEY.public_key().public_bytes_raw()


@pytest.fixture
def app(db: Database, tmp_path: Path) -> Iterator[Flask]:
    application = make_app(db, tmp_path)
    application.config[KEY_ENV] = KEY_TEXT
    yield application
    dispose_app(application)


def fill(db: Database, slug: str, count: int) -> None:
    with db.write() as session:
        for i in range(count):
            operations.record(session, slug, "contribution", 500 + i, memo=f"gift {i}", actor="t")


def root_of(db: Database, slug: str, size: int | None = None) -> bytes:
    """The RFC 9162 root recomputed from the entries' stored columns."""
    with db.read() as session:
        pot = ledger_pots.get_pot(session, slug)
        rows = session.scalars(select(Entry).where(Entry.pot_id == pot.id).order_by(Entry.seq))
        leaves = [
            merkle.leaf_hash(canonical_bytes(stored_document(slug, e, e.postings))) for e in rows
        ]
    return merkle.root_from_leaves(leaves[:size] if size is not None else leaves)


def stored_count(db: Database, slug: str) -> int:
    with db.read() as session:
        pot = ledger_pots.get_pot(session, slug)
        query = select(func.count()).where(checkpoints.Checkpoint.pot_id == pot.id)
        return int(session.scalar(query) or 0)


def unprotect(db: Database, *tables: str) -> None:
    """Drop the append-only triggers of ``tables`` (in a database of the test's own)."""
    for table in tables:
        if db.dialect == "postgresql":
            execute(db, f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        else:
            execute(db, f"DROP TRIGGER IF EXISTS {table}_no_update")
            execute(db, f"DROP TRIGGER IF EXISTS {table}_no_delete")


def test_a_checkpoint_is_a_signed_note_of_the_current_tree(
    client: FlaskClient, db: Database, pot_slug: str
) -> None:
    fill(db, pot_slug, 6)
    response = client.get(f"{API}/pots/{pot_slug}/checkpoint")
    assert response.status_code == 200
    assert response.content_type == "text/plain; charset=utf-8"
    note = response.get_data(as_text=True)
    text_part, signature_part = note.split("\n\n")
    origin, size, root, time_line = text_part.split("\n")
    assert origin == f"commonpot.localhost/pots/{pot_slug}"
    assert size == "6"
    assert base64.b64decode(root) == root_of(db, pot_slug)
    assert re.fullmatch(r"time \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", time_line)
    dash, name, signature = signature_part.rstrip("\n").split(" ")
    assert (dash, name) == ("\u2014", origin)
    raw = base64.b64decode(signature)
    key_id = hashlib.sha256(origin.encode() + b"\n\x01" + PUBLIC).digest()[:4]
    assert raw[:4] == key_id
    KEY.public_key().verify(raw[4:], (text_part + "\n").encode())  # raises if it does not


def test_json_gives_the_same_checkpoint(client: FlaskClient, db: Database, pot_slug: str) -> None:
    fill(db, pot_slug, 3)
    note = client.get(f"{API}/pots/{pot_slug}/checkpoint").get_data(as_text=True)
    body = client.get(f"{API}/pots/{pot_slug}/checkpoint?format=json").get_json()
    assert body["note"] == note
    assert body["tree_size"] == 3 and body["origin"] == body["key_name"]
    assert base64.b64decode(body["root_hash"]) == root_of(db, pot_slug)
    assert note.endswith(f" {body['signature']}\n") and f"time {body['time']}\n" in note
    assert body["key_id"] == base64.b64decode(body["signature"])[:4].hex()


def test_one_checkpoint_per_tree_and_each_extends_the_last(
    client: FlaskClient, db: Database, pot_slug: str
) -> None:
    fill(db, pot_slug, 5)
    first = client.get(f"{API}/pots/{pot_slug}/checkpoint").get_data(as_text=True)
    assert client.get(f"{API}/pots/{pot_slug}/checkpoint").get_data(as_text=True) == first
    assert stored_count(db, pot_slug) == 1
    fill(db, pot_slug, 4)
    second = client.get(f"{API}/pots/{pot_slug}/checkpoint").get_data(as_text=True)
    assert second.split("\n")[1] == "9" and stored_count(db, pot_slug) == 2
    proof = client.get(f"{API}/pots/{pot_slug}/proofs/consistency?from=5&to=9").get_json()
    merkle.verify_consistency(
        5,
        9,
        base64.b64decode(first.split("\n")[2]),
        base64.b64decode(second.split("\n")[2]),
        [base64.b64decode(p) for p in proof["proof"]],
    )


def test_an_empty_pot_has_a_checkpoint_of_the_empty_tree(
    client: FlaskClient, pot_slug: str
) -> None:
    body = client.get(f"{API}/pots/{pot_slug}/checkpoint?format=json").get_json()
    assert body["tree_size"] == 0
    assert base64.b64decode(body["root_hash"]) == merkle.EMPTY_ROOT


def test_keys_publishes_a_verifier_key_per_pot(
    client: FlaskClient, db: Database, pot_slug: str
) -> None:
    fill(db, pot_slug, 2)
    items = client.get(f"{API}/keys").get_json()["items"]
    mine = next(item for item in items if item["pot"] == pot_slug)
    assert mine["algorithm"] == "Ed25519"
    assert base64.b64decode(mine["public_key"]) == PUBLIC
    name = f"commonpot.localhost/pots/{pot_slug}"
    key_id = hashlib.sha256(name.encode() + b"\n\x01" + PUBLIC).digest()[:4].hex()
    assert mine["name"] == name and mine["key_id"] == key_id
    assert mine["verifier_key"] == f"{name}+{key_id}+" + base64.b64encode(b"\x01" + PUBLIC).decode()
    note = client.get(f"{API}/pots/{pot_slug}/checkpoint").get_data()
    checkpoint = open_checkpoint(note, VerifierKey.parse(mine["verifier_key"]))
    assert checkpoint.tree_size == 2 and checkpoint.pot == pot_slug
    other = next((item for item in items if item["pot"] != pot_slug), None)
    if other is not None:  # another pot's key name must not vouch for this pot
        with pytest.raises(SignatureError):
            open_checkpoint(note, VerifierKey.parse(other["verifier_key"]))


def test_bad_checkpoint_requests_are_problems(client: FlaskClient, pot_slug: str) -> None:
    missing = client.get(f"{API}/pots/no-such-pot/checkpoint")
    assert missing.status_code == 404 and missing.mimetype == PROBLEM_JSON
    wrong = client.get(f"{API}/pots/{pot_slug}/checkpoint?format=xml")
    assert wrong.status_code == 422 and wrong.mimetype == PROBLEM_JSON


def test_the_origin_is_configured_never_taken_from_the_request(
    app: Flask, db: Database, pot_slug: str
) -> None:
    app.config["COMMONPOT_LOG_ORIGIN"] = "pot.example.org/"
    note = app.test_client().get(
        f"{API}/pots/{pot_slug}/checkpoint", headers={"Host": "evil.example"}
    )
    assert note.get_data(as_text=True).startswith(f"pot.example.org/pots/{pot_slug}\n")
    app.config["COMMONPOT_LOG_ORIGIN"] = "has space"
    with app.app_context(), pytest.raises(ConfigurationError, match="COMMONPOT_LOG_ORIGIN"):
        log_origin()


def test_the_signing_key_is_generated_once_with_owner_only_permissions(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    folder = tmp_path / "instance"
    key = load_signing_key(folder, environ={})
    path = folder / "signing_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_signing_key(folder, environ={}).private_bytes_raw() == key.private_bytes_raw()
    assert [p.name for p in folder.iterdir()] == ["signing_key"]  # no temporary file left
    secret = path.read_text().strip()
    assert "generated a new checkpoint signing key" in caplog.text
    assert secret not in caplog.text


def test_the_signing_key_can_come_from_the_environment(tmp_path: Path) -> None:
    key = load_signing_key(tmp_path, environ={KEY_ENV: KEY_TEXT})
    assert key.private_bytes_raw() == KEY.private_bytes_raw()
    assert not (tmp_path / "signing_key").exists()
    for bad in ("not base64!", base64.b64encode(b"short").decode()):
        with pytest.raises(ConfigurationError) as info:
            load_signing_key(tmp_path, environ={KEY_ENV: bad})
        assert bad not in str(info.value)


def test_stored_checkpoints_are_append_only(
    client: FlaskClient, db: Database, pot_slug: str
) -> None:
    fill(db, pot_slug, 1)
    client.get(f"{API}/pots/{pot_slug}/checkpoint")
    where = "WHERE pot_id = (SELECT id FROM pots WHERE slug = :slug)"
    for sql in (
        f"UPDATE ledger_checkpoints SET tree_size = tree_size + 1 {where}",
        f"DELETE FROM ledger_checkpoints {where}",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            execute(db, sql, slug=pot_slug)
    assert stored_count(db, pot_slug) == 1


def test_concurrent_requests_sign_the_tree_once(app: Flask, db: Database, pot_slug: str) -> None:
    fill(db, pot_slug, 4)
    with app.app_context():
        key, prefix = signer(), log_origin()
    notes: list[str] = []
    errors: list[BaseException] = []

    def request() -> None:
        try:
            notes.append(checkpoints.current_checkpoint(db, pot_slug, key, prefix).note)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=request) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(set(notes)) == 1
    assert stored_count(db, pot_slug) == 1


def test_the_index_page_shows_each_pots_checkpoint(
    client: FlaskClient, db: Database, pot_slug: str
) -> None:
    fill(db, pot_slug, 3)
    page = client.get("/").get_data(as_text=True)
    root = base64.b64encode(root_of(db, pot_slug)).decode()
    assert root in page
    assert f'href="/api/v1/pots/{pot_slug}/checkpoint"' in page
    assert f'download="{pot_slug}-3.checkpoint"' in page


# -- an attacker with database access -----------------------------------------------------------


@pytest.fixture
def signed(fresh_db: Database, tmp_path: Path) -> Iterator[tuple[Flask, Database]]:
    """A database of the test's own with pot "t": 4 entries and a checkpoint of them."""
    with fresh_db.write() as session:
        ledger_pots.create_pot(session, "t", name="T", currency="GBP")
    fill(fresh_db, "t", 4)
    application = make_app(fresh_db, tmp_path)
    application.config[KEY_ENV] = KEY_TEXT
    assert application.test_client().get(f"{API}/pots/t/checkpoint").status_code == 200
    yield application, fresh_db
    dispose_app(application)


def assert_refused(application: Flask, says: str) -> None:
    response = application.test_client().get(f"{API}/pots/t/checkpoint")
    assert response.status_code == 409 and response.mimetype == PROBLEM_JSON
    problem = response.get_json()
    assert problem["type"] == "/problems/inconsistent-history"
    assert says in problem["detail"]
    assert "could not be signed" in application.test_client().get("/").get_data(as_text=True)


def test_refuses_to_sign_a_rewritten_tree(
    signed: tuple[Flask, Database], caplog: pytest.LogCaptureFixture
) -> None:
    application, db = signed
    unprotect(db, "ledger_entries")
    forged = merkle.MemoryTree()
    for i in range(4):
        forged.append(b"forged" if i == 1 else b"leaf %d" % i)
    # The leaves live on their entries; the nodes of a tree this small are computed from them.
    for index in range(4):
        execute(
            db,
            "UPDATE ledger_entries SET leaf_hash = :h WHERE seq = :seq",
            h=forged.get_node(0, index),
            seq=index + 1,
        )
    fill(db, "t", 1)
    assert_refused(application, "not an append-only extension")
    assert "checkpoint refused" in caplog.text
    assert stored_count(db, "t") == 1


def test_refuses_to_sign_after_entries_were_removed(signed: tuple[Flask, Database]) -> None:
    application, db = signed
    unprotect(db, "ledger_entries", "ledger_postings")
    execute(db, "DELETE FROM ledger_postings WHERE entry_id = (SELECT id FROM ledger_entries "
            "WHERE seq = 4)")  # fmt: skip
    execute(db, "DELETE FROM ledger_entries WHERE seq = 4")
    with db.engine.begin() as conn:
        head = conn.execute(text("SELECT hash FROM ledger_entries WHERE seq = 3")).scalar_one()
        conn.execute(text("UPDATE pots SET head_seq = 3, head_hash = :h"), {"h": head})
    # The tree of 3 is complete again: its nodes are computed from the leaves that remain.
    assert_refused(application, "entries have been removed")


def test_refuses_to_trust_an_edited_checkpoint_row(signed: tuple[Flask, Database]) -> None:
    application, db = signed
    unprotect(db, "ledger_checkpoints")
    execute(db, "UPDATE ledger_checkpoints SET root_hash = :h", h=bytes(32))
    fill(db, "t", 1)
    assert_refused(application, "does not match its columns")
