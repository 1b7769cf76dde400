"""Exceptions raised by the Open Collective client.

Every message is built by the client after the token has been scrubbed out of it: the real API
echoes a rejected personal token back in its error message ("Invalid Personal Token (Api Key):
<token>"), so nothing from the server is put into an exception or a log line unredacted.
"""

from __future__ import annotations

from ledger.errors import LedgerError


class OpenCollectiveError(Exception):
    """Base class: anything that went wrong talking to Open Collective."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        # The GraphQL `extensions.code` (e.g. "Forbidden", "NotFound") or HTTP status, when known.
        self.code = code


class OpenCollectiveAuthError(OpenCollectiveError):
    """The token is missing, invalid, expired, or lacks the scope the operation needs."""

    def __init__(self, message: str, *, code: str | None = None, scope: str | None = None) -> None:
        super().__init__(message, code=code)
        # The token scope that is probably missing ("transactions", "expenses", ...), if known.
        self.scope = scope


class OpenCollectiveNotFound(OpenCollectiveError):
    """The account, expense or transaction does not exist (or is not visible to this token)."""


class OpenCollectiveGraphQLError(OpenCollectiveError):
    """The API rejected the request: invalid query/variables or a business rule (ValidationFailed).

    Retrying the same request will fail the same way, so it is never retried.
    """


class OpenCollectiveDataError(OpenCollectiveError):
    """The API answered something the client refuses to interpret: wrong shape, a non-integral
    `valueInCents`, a currency mismatch. Accounting must stop rather than guess."""


class OpenCollectiveUnavailable(OpenCollectiveError):
    """The API could not be reached or kept failing after the retries were spent.

    `retry_after` carries the server's last Retry-After hint (seconds) when there was one.
    """

    def __init__(
        self, message: str, *, code: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class OpenCollectiveOutcomeUnknown(OpenCollectiveUnavailable):
    """A mutation was sent but no answer came back (timeout, dropped connection, 5xx).

    It may or may not have been applied, so the client does not resend it: the caller must look
    for the object it tried to create (e.g. `find_expenses(custom_data=...)`) before retrying.
    """


def describe(exc: Exception) -> str:
    """An exception as a line for treasurers: never the token, never connection details."""
    if isinstance(exc, LedgerError):
        return f"{exc.title}: {exc.detail}"
    if isinstance(exc, OpenCollectiveError):
        return exc.message  # already free of the token
    return f"{type(exc).__name__} (see the log)"
