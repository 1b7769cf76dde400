"""Signed checkpoints: C2SP signed-note and tlog-checkpoint, Ed25519 only.

A checkpoint file looks like::

    commonpot.example.org/pots/civic-practice-fund
    42
    <base64 root hash>
    time 2026-03-01T12:00:00.000000Z

    — commonpot.example.org/pots/civic-practice-fund <base64(key id || Ed25519 signature)>

The text before the blank line is what was signed (including its last newline). A verifier key
(``<name>+<8 hex digits key id>+<base64(0x01 || 32-byte public key)>``) says whose signature
to trust. Specifications: https://c2sp.org/signed-note and https://c2sp.org/tlog-checkpoint.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

ED25519 = 0x01
SIGNATURE_PREFIX = "\u2014 "  # em dash, space
MAX_NOTE_BYTES = 1 << 20
MAX_SIGNATURES = 100  # the C2SP minimum to accept is 16; Go's note package stops at 100
HASH_SIZE = 32


class NoteFormatError(ValueError):
    """The text is not a well-formed signed note, checkpoint or verifier key."""


class SignatureError(ValueError):
    """The note is well formed but not validly signed by the pinned key."""


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise NoteFormatError(f"{what} is not valid base64") from None


def _check_name(name: str, what: str) -> None:
    if not name or any(c.isspace() or c == "+" for c in name):
        raise NoteFormatError(f"{what} {name!r} must be non-empty, without spaces or '+'")


@dataclass(frozen=True)
class VerifierKey:
    name: str
    key_id: bytes  # 4 bytes
    public_key: bytes  # 32 bytes, Ed25519

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        """Parse ``<name>+<hex key id>+<base64(0x01 || public key)>``."""
        # Names contain no '+', but base64 may: split at the first two only (as Go's note does).
        parts = text.strip().split("+", 2)
        if len(parts) != 3:
            raise NoteFormatError(
                "a verifier key looks like NAME+KEYID+KEY (three parts separated by '+')"
            )
        name, key_id_hex, encoded = parts
        _check_name(name, "the key name")
        if len(key_id_hex) != 8 or any(c not in "0123456789abcdef" for c in key_id_hex):
            raise NoteFormatError("the key id of a verifier key is 8 lowercase hex digits")
        material = _b64decode(encoded, "the public key of the verifier key")
        if len(material) != 33 or material[0] != ED25519:
            raise NoteFormatError("the verifier key is not an Ed25519 key (type 0x01, 32 bytes)")
        key = cls(name, bytes.fromhex(key_id_hex), material[1:])
        if key.computed_key_id() != key.key_id:
            raise NoteFormatError(
                "the verifier key's id does not match its name and public key: "
                "it was mistyped or altered"
            )
        return key

    def computed_key_id(self) -> bytes:
        digest = hashlib.sha256(self.name.encode() + b"\n" + bytes([ED25519]) + self.public_key)
        return digest.digest()[:4]

    def __str__(self) -> str:
        encoded = base64.b64encode(bytes([ED25519]) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{encoded}"


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    tree_size: int
    root_hash: bytes
    extensions: tuple[str, ...]
    text: str  # the signed note text

    @property
    def time(self) -> str | None:
        """The signing time from the ``time`` extension line, if there is one."""
        for line in self.extensions:
            if line.startswith("time "):
                return line[len("time ") :]
        return None

    @property
    def pot(self) -> str | None:
        """The pot slug, for origins of the form ``<host>/pots/<slug>``."""
        head, sep, slug = self.origin.rpartition("/pots/")
        return slug if sep and head and slug and "/" not in slug else None

    def describe(self) -> str:
        when = f", signed {self.time}" if self.time else ""
        return f"{self.tree_size} entries{when}"


def parse_checkpoint_text(text: str) -> Checkpoint:
    """Parse a checkpoint's note text (origin, size, base64 root, optional extension lines)."""
    if not text.endswith("\n"):
        raise NoteFormatError("the checkpoint text must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise NoteFormatError("a checkpoint has at least three lines: origin, size, root hash")
    origin, size_text, root_text, *extensions = lines
    if not origin:
        raise NoteFormatError("the checkpoint's origin line is empty")
    if not size_text.isascii() or not size_text.isdigit() or len(size_text) > 19:
        raise NoteFormatError(f"the checkpoint's tree size {size_text!r} is not a number")
    if size_text != "0" and size_text.startswith("0"):
        raise NoteFormatError("the checkpoint's tree size has leading zeros")
    root = _b64decode(root_text, "the checkpoint's root hash")
    if len(root) != HASH_SIZE:
        raise NoteFormatError(f"the checkpoint's root hash is {len(root)} bytes, not 32")
    if any(not line for line in extensions):
        raise NoteFormatError("the checkpoint has an empty extension line")
    return Checkpoint(origin, int(size_text), root, tuple(extensions), text)


def split_note(note: bytes) -> tuple[str, list[tuple[str, bytes]]]:
    """Split a signed note into its text and its (key name, base64-decoded signature) lines."""
    if len(note) > MAX_NOTE_BYTES:
        raise NoteFormatError("the note is too large")
    try:
        decoded = note.decode("utf-8")
    except UnicodeDecodeError:
        raise NoteFormatError("the note is not UTF-8 text") from None
    if any(ord(c) < 0x20 and c != "\n" for c in decoded):
        raise NoteFormatError("the note contains control characters (only newlines are allowed)")
    cut = decoded.rfind("\n\n")
    if cut < 0:
        raise NoteFormatError("the note has no blank line before its signatures")
    text, signature_block = decoded[: cut + 1], decoded[cut + 2 :]
    if not signature_block.endswith("\n"):
        raise NoteFormatError("the note's last signature line does not end with a newline")
    signatures = []
    for line in signature_block[:-1].split("\n"):
        if not line.startswith(SIGNATURE_PREFIX):
            raise NoteFormatError(f"malformed signature line {line[:60]!r}")
        name, _, encoded = line[len(SIGNATURE_PREFIX) :].rpartition(" ")
        _check_name(name, "the signer's name")
        raw = _b64decode(encoded, "a signature")
        if len(raw) < 5:
            raise NoteFormatError("a signature is too short")
        signatures.append((name, raw))
    if len(signatures) > MAX_SIGNATURES:
        raise NoteFormatError("the note has too many signatures")
    return text, signatures


def open_checkpoint(note: bytes, key: VerifierKey) -> Checkpoint:
    """Check the note's signature by ``key`` and return the checkpoint it signs.

    C2SP: signatures by other keys are ignored; a signature by the pinned key (same name and
    key id) that does not verify rejects the note; so does the absence of one.
    """
    text, signatures = split_note(note)
    public = Ed25519PublicKey.from_public_bytes(key.public_key)
    signed = False
    for name, raw in signatures:
        if name != key.name or raw[:4] != key.key_id:
            continue
        try:
            public.verify(raw[4:], text.encode())
        except InvalidSignature:
            raise SignatureError(
                f"the signature by {key.name} does not verify: the checkpoint was altered "
                "after it was signed, or signed by a different key with the same name"
            ) from None
        signed = True
    if not signed:
        names = ", ".join(sorted({name for name, _ in signatures}))
        raise SignatureError(
            f"the checkpoint is not signed by the key you pinned ({key.name}); it is signed by "
            f"{names}"
        )
    checkpoint = parse_checkpoint_text(text)
    if checkpoint.origin != key.name:
        raise SignatureError(
            f"the checkpoint is for {checkpoint.origin!r} but the key you pinned is for "
            f"{key.name!r}"
        )
    return checkpoint
