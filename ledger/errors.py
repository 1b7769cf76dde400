"""Domain errors of the money core.

Each error has a meaning a user can act on; the web and CLI edges turn them into RFC 9457
problems or one-line messages. Nothing here knows about HTTP.
"""

from __future__ import annotations


class LedgerError(Exception):
    """Base class: a request the ledger refused. Nothing was written."""

    #: A short, stable, human title (becomes the problem's ``title``).
    title = "Ledger error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidInput(LedgerError):
    title = "Invalid input"


class InvalidAmount(InvalidInput):
    title = "Invalid amount"


class UnknownCurrency(InvalidInput):
    title = "Unknown currency"


class NotFound(LedgerError):
    title = "Not found"


class PotNotFound(NotFound):
    title = "Pot not found"


class EntryNotFound(NotFound):
    title = "Entry not found"


class Conflict(LedgerError):
    title = "Conflict"


class PotExists(Conflict):
    title = "Pot already exists"


class IdempotencyConflict(Conflict):
    """The same idempotency key (or external reference) was used for different content."""

    title = "Idempotency key reused with different content"


class AlreadyReversed(Conflict):
    title = "Entry already reversed"


class InsufficientFunds(LedgerError):
    """A posting would take an account that must not go below zero below zero."""

    title = "Insufficient funds"

    def __init__(self, detail: str, *, account: str, balance: int, requested: int) -> None:
        super().__init__(detail)
        self.account = account
        self.balance = balance
        self.requested = requested


class Unauthenticated(LedgerError):
    """No valid credentials: a missing, unknown, revoked or malformed token, or a failed sign-in."""

    title = "Authentication required"


class Forbidden(LedgerError):
    """Valid credentials, but this person's role does not allow the request."""

    title = "Forbidden"
