"""The service's checkpoint-signing key and log origin.

The Ed25519 key comes from ``COMMONPOT_SIGNING_KEY`` (base64 of the 32-byte private key seed),
or else from ``instance/signing_key``, generated there on first run with owner-only permissions,
like the session secret. The key is never logged, only its public half and key ids.

The origin prefix of every checkpoint comes from ``COMMONPOT_LOG_ORIGIN`` (e.g.
``pot.example.org``), default ``commonpot.localhost``. It is configuration rather than the
request's Host header on purpose: the origin is signed and stored, so it must not depend on
what a client sends.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from flask import current_app

from app.settings import ConfigurationError, instance_path
from ledger.checkpoints import NoteSigner, check_key_name
from ledger.errors import InvalidInput

KEY_ENV = "COMMONPOT_SIGNING_KEY"
ORIGIN_ENV = "COMMONPOT_LOG_ORIGIN"
DEFAULT_ORIGIN = "commonpot.localhost"
KEY_FILE = "signing_key"
_SIGNER_KEY = "commonpot.signer"

log = logging.getLogger(__name__)


def encode_private_key(key: Ed25519PrivateKey) -> str:
    seed = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return base64.b64encode(seed).decode()


def decode_private_key(text: str, where: str) -> Ed25519PrivateKey:
    # The message names where the key came from, never any of its characters.
    try:
        seed = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigurationError(f"{where} is not base64") from None
    if len(seed) != 32:
        raise ConfigurationError(
            f"{where} must be the base64 of a 32-byte Ed25519 private key, got {len(seed)} bytes"
        )
    return Ed25519PrivateKey.from_private_bytes(seed)


def load_signing_key(folder: Path, environ: dict[str, str] | None = None) -> Ed25519PrivateKey:
    """The key from the environment, else from ``folder/signing_key`` (created if missing)."""
    env = os.environ if environ is None else environ
    configured = env.get(KEY_ENV)
    if configured:
        return decode_private_key(configured, KEY_ENV)
    path = folder / KEY_FILE
    if not path.exists():
        _generate(folder, path)
    return decode_private_key(path.read_text(), str(path))


def _generate(folder: Path, path: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    # Write a private temporary file, then link it into place: link() fails if the file exists,
    # so when several workers start at once exactly one key wins and nobody reads half a file.
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=".signing_key.")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(encode_private_key(key) + "\n")
        try:
            os.link(temporary, path)
        except FileExistsError:
            return  # another process generated it first; use theirs
    finally:
        os.unlink(temporary)
    public = NoteSigner(key).public_key
    log.info(
        "generated a new checkpoint signing key in %s (public key %s)",
        folder,
        base64.b64encode(public).decode(),
    )


def log_origin() -> str:
    """The origin prefix of this service's checkpoints (see the module docstring)."""
    value = current_app.config.get(ORIGIN_ENV) or os.environ.get(ORIGIN_ENV) or DEFAULT_ORIGIN
    try:
        return check_key_name(str(value).rstrip("/"))
    except InvalidInput as exc:
        raise ConfigurationError(f"{ORIGIN_ENV}: {exc.detail}") from None


def signer() -> NoteSigner:
    """The app's signer, loaded once per app (``COMMONPOT_SIGNING_KEY`` in the app's config
    wins over the environment, for tests and embedding)."""
    cached = current_app.extensions.get(_SIGNER_KEY)
    if cached is None:
        configured = current_app.config.get(KEY_ENV)
        if configured:
            key = decode_private_key(configured, KEY_ENV)
        else:
            key = load_signing_key(Path(current_app.instance_path or instance_path()))
        cached = current_app.extensions[_SIGNER_KEY] = NoteSigner(key)
    signer_: NoteSigner = cached
    return signer_
