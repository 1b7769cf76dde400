"""Random one-time secrets (API tokens, invitation tokens), stored only as SHA-256 digests.

The secrets carry 256 random bits, so a plain SHA-256 digest is enough to make the stored
value useless to someone reading the database (no slow hash needed, unlike passwords).
"""

from __future__ import annotations

import hashlib
import secrets

TOKEN_PREFIX = "cp_"
INVITATION_PREFIX = "cpi_"


def new_secret(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()
