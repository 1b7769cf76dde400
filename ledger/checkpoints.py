"""Signed checkpoints of each pot's Merkle tree, in the C2SP tlog-checkpoint format.

A checkpoint is a C2SP signed note (https://c2sp.org/signed-note) whose text is::

    <origin>\\n<tree size>\\n<base64 root hash>\\ntime <RFC 3339 UTC>\\n

followed by a blank line and a signature line ``— <key name> <base64(key id || signature)>``.
The origin is ``<log origin prefix>/pots/<slug>``, and the key name equals the origin (the spec's
SHOULD): one Ed25519 key signs every pot, but under a different name per pot, so a checkpoint of
one pot can never pass for another's. The key id is the first 4 bytes of
SHA-256(key name || 0x0A || 0x01 || public key). The ``time`` line is an extension line: the spec
discourages them because monitors cannot audit them, but a member reading a checkpoint wants to
know when it was signed, and clients must accept them.

The log's promise (C2SP: "a log MUST NOT sign any checkpoint which is inconsistent with any
checkpoint it previously signed") is kept here: every checkpoint issued is stored (append-only),
and before signing a new tree the last stored checkpoint is re-checked (its signature, when it
was made with the current key) and a consistency proof from it to the new tree is computed from
the stored nodes and verified. Each checkpoint was checked against its predecessor, so checking
against the last one covers them all.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import BigInteger, ForeignKey, LargeBinary, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from ledger import merkle, proofs, tree
from ledger.chain import canonical_bytes, entry_hash, format_timestamp, stored_document
from ledger.db import Database
from ledger.entries import get_entry
from ledger.errors import Conflict, InvalidInput
from ledger.journal import lock_pot
from ledger.models import Base, BigId, Pot
from ledger.pots import get_pot

ED25519_SIGNATURE_TYPE = b"\x01"
SIGNATURE_PREFIX = "\u2014 "  # em dash, space
TIME_EXTENSION = "time "


class InconsistentHistory(Conflict):
    """The stored tree is not an append-only extension of a checkpoint already signed."""

    title = "Ledger inconsistent with an earlier checkpoint"


class Checkpoint(Base):
    """A checkpoint as issued: never changed or deleted (database triggers refuse it)."""

    __tablename__ = "ledger_checkpoints"
    __table_args__ = (UniqueConstraint("pot_id", "tree_size", "key_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    pot_id: Mapped[int] = mapped_column(ForeignKey("pots.id"))
    tree_size: Mapped[int] = mapped_column(BigInteger)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    issued_at: Mapped[str] = mapped_column(String(27))  # RFC 3339 UTC, as in the note
    origin: Mapped[str] = mapped_column(String(300))
    key_id: Mapped[str] = mapped_column(String(8))  # hex
    note: Mapped[str] = mapped_column(Text)  # the signed note exactly as served


@dataclass(frozen=True)
class SignedCheckpoint:
    origin: str
    tree_size: int
    root_hash: bytes
    issued_at: str
    key_name: str
    key_id: bytes
    note: str

    @property
    def root_base64(self) -> str:
        return base64.b64encode(self.root_hash).decode()

    @property
    def signature(self) -> str:
        """The base64 signature field of the note's signature line (key id || signature)."""
        return self.note.rstrip("\n").rsplit(" ", 1)[1]

    @classmethod
    def from_row(cls, row: Checkpoint) -> SignedCheckpoint:
        return cls(
            origin=row.origin,
            tree_size=row.tree_size,
            root_hash=bytes(row.root_hash),
            issued_at=row.issued_at,
            key_name=row.origin,
            key_id=bytes.fromhex(row.key_id),
            note=row.note,
        )


def check_key_name(name: str) -> str:
    """Refuse a name that C2SP forbids (empty, spaces, '+') or that would break a note line."""
    if not isinstance(name, str) or not name:
        raise InvalidInput("a log origin / key name must not be empty")
    if any(c.isspace() or c == "+" or ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        raise InvalidInput(
            f"log origin {name!r} must not contain spaces, '+' or control characters"
        )
    return name


def pot_origin(prefix: str, slug: str) -> str:
    """The origin line (and key name) of a pot's checkpoints."""
    return check_key_name(f"{prefix.rstrip('/')}/pots/{slug}")


@dataclass(frozen=True)
class NoteSigner:
    """Signs note texts with one Ed25519 key, under any key name."""

    private_key: Ed25519PrivateKey

    @property
    def public_key(self) -> bytes:
        return self.private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    def key_id(self, name: str) -> bytes:
        material = name.encode() + b"\n" + ED25519_SIGNATURE_TYPE + self.public_key
        return hashlib.sha256(material).digest()[:4]

    def verifier_key(self, name: str) -> str:
        """The C2SP verifier key string ``<name>+<hex key id>+<base64(0x01 || public key)>``."""
        encoded = base64.b64encode(ED25519_SIGNATURE_TYPE + self.public_key).decode()
        return f"{check_key_name(name)}+{self.key_id(name).hex()}+{encoded}"

    def signature_line(self, name: str, text: str) -> str:
        signature = self.private_key.sign(text.encode())
        encoded = base64.b64encode(self.key_id(name) + signature).decode()
        return f"{SIGNATURE_PREFIX}{check_key_name(name)} {encoded}\n"

    def verifies(self, name: str, text: str, signature_field: str) -> bool:
        """Whether ``signature_field`` (base64 key id || sig) is our signature of ``text``."""
        try:
            raw = base64.b64decode(signature_field, validate=True)
        except ValueError:
            return False
        if raw[:4] != self.key_id(name):
            return False
        try:
            self.private_key.public_key().verify(raw[4:], text.encode())
        except InvalidSignature:
            return False
        return True


def note_text(origin: str, tree_size: int, root_hash: bytes, issued_at: str) -> str:
    root = base64.b64encode(root_hash).decode()
    return f"{origin}\n{tree_size}\n{root}\n{TIME_EXTENSION}{issued_at}\n"


def latest(session: Session, pot: Pot, *, key_id: bytes | None = None) -> Checkpoint | None:
    """The pot's checkpoint with the largest tree (of one key, if ``key_id`` is given)."""
    query = select(Checkpoint).where(Checkpoint.pot_id == pot.id)
    if key_id is not None:
        query = query.where(Checkpoint.key_id == key_id.hex())
    return session.scalars(
        query.order_by(Checkpoint.tree_size.desc(), Checkpoint.id.desc()).limit(1)
    ).first()


def current_checkpoint(
    db: Database, slug: str, signer: NoteSigner, prefix: str, *, now: datetime | None = None
) -> SignedCheckpoint:
    """A signed checkpoint of the pot's whole ledger: the stored one, or a new one if it grew.

    Reading is enough when the ledger has not grown since the last checkpoint. Otherwise a
    write unit of work locks the pot (so the tree cannot grow while it is signed, and two
    requests do not both sign) and issues one.
    """
    origin = pot_origin(prefix, slug)
    key_id = signer.key_id(origin)
    with db.read() as session:
        pot = get_pot(session, slug)
        stored = latest(session, pot, key_id=key_id)
        if stored is not None and stored.tree_size == pot.head_seq and stored.origin == origin:
            return SignedCheckpoint.from_row(stored)
    with db.write() as session:
        pot = lock_pot(session, slug)
        stored = latest(session, pot, key_id=key_id)
        if stored is not None and stored.tree_size == pot.head_seq and stored.origin == origin:
            return SignedCheckpoint.from_row(stored)  # another request signed it meanwhile
        return issue(session, pot, signer, origin, now=now)


def issue(
    session: Session, pot: Pot, signer: NoteSigner, origin: str, *, now: datetime | None = None
) -> SignedCheckpoint:
    """Sign and store a checkpoint of the pot's whole ledger. The caller holds the pot's lock."""
    size = pot.head_seq
    root = _root_consistent_with_last_checkpoint(session, pot, signer, size)
    _check_head_leaf(session, pot, size)
    issued_at = format_timestamp(now or datetime.now(UTC))
    text = note_text(origin, size, root, issued_at)
    note = text + "\n" + signer.signature_line(origin, text)
    row = Checkpoint(
        pot_id=pot.id,
        tree_size=size,
        root_hash=root,
        issued_at=issued_at,
        origin=origin,
        key_id=signer.key_id(origin).hex(),
        note=note,
    )
    session.add(row)
    session.flush()
    return SignedCheckpoint.from_row(row)


def _root_consistent_with_last_checkpoint(
    session: Session, pot: Pot, signer: NoteSigner, size: int
) -> bytes:
    last = latest(session, pot)
    try:
        if last is None or last.tree_size == 0:
            return proofs.tree_root(session, pot, size)
        _check_stored_checkpoint(last, signer)
        if last.tree_size > size:
            raise InconsistentHistory(
                f"pot {pot.slug!r} has {size} entries, but a checkpoint was already signed "
                f"for {last.tree_size}: entries have been removed"
            )
        proof = proofs.consistency(session, pot, last.tree_size, size)
        merkle.verify_consistency(
            last.tree_size, size, bytes(last.root_hash), proof.new_root, proof.proof
        )
        return proof.new_root
    except (merkle.ProofError, proofs.DamagedTree) as exc:
        earlier = f"the checkpoint signed for {last.tree_size} entries" if last else "its entries"
        raise InconsistentHistory(
            f"refusing to sign pot {pot.slug!r}: its stored tree of {size} entries is not an "
            f"append-only extension of {earlier} ({exc})"
        ) from None


def _check_stored_checkpoint(row: Checkpoint, signer: NoteSigner) -> None:
    """The stored root must be the one that was signed (catches an edited checkpoint row)."""
    text, _, signature_line = row.note.rpartition("\n\n")
    text += "\n"
    expected = note_text(row.origin, row.tree_size, bytes(row.root_hash), row.issued_at)
    if text != expected:
        raise merkle.ProofError("the stored checkpoint's note does not match its columns")
    if row.key_id == signer.key_id(row.origin).hex():
        signature = signature_line.rstrip("\n").rsplit(" ", 1)[-1]
        if not signer.verifies(row.origin, text, signature):
            raise merkle.ProofError("the stored checkpoint's signature does not verify")


def _check_head_leaf(session: Session, pot: Pot, size: int) -> None:
    """The tree's last leaf must be the chain head's canonical bytes (O(1), catches a stale or
    forged tip; ``ledger verify`` checks every leaf)."""
    if size == 0:
        return
    entry = get_entry(session, pot, size)
    canonical = canonical_bytes(stored_document(pot.slug, entry, entry.postings))
    try:
        leaf = tree.node_getter(session, pot.id)(0, size - 1)
    except LookupError:
        leaf = b""
    if (
        entry_hash(canonical) != entry.hash
        or entry.hash != pot.head_hash
        or merkle.leaf_hash(canonical) != leaf
    ):
        raise InconsistentHistory(
            f"refusing to sign pot {pot.slug!r}: entry #{size}, its hash and the stored tree's "
            "last leaf do not agree"
        )
