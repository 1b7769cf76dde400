"""Password hashing with argon2id (argon2-cffi's recommended parameters)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ledger.errors import InvalidInput

MIN_LENGTH = 10
MAX_LENGTH = 1024  # argon2 takes any length; this keeps one request from costing too much

_hasher = PasswordHasher()
# Checked against when the email is unknown, so that an unknown email and a wrong password
# cost the same time and get the same answer.
_DUMMY_HASH = _hasher.hash("commonpot dummy password, never valid")


def check_strength(password: object) -> str:
    if not isinstance(password, str):
        raise InvalidInput("the password must be text")
    if len(password) < MIN_LENGTH:
        raise InvalidInput(f"the password must be at least {MIN_LENGTH} characters long")
    if len(password) > MAX_LENGTH:
        raise InvalidInput(f"the password must be at most {MAX_LENGTH} characters long")
    return password


def hash_password(password: str) -> str:
    return _hasher.hash(check_strength(password))


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; with ``stored_hash=None`` it spends the same effort and
    answers False."""
    if not isinstance(password, str) or len(password) > MAX_LENGTH:
        return False
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False
