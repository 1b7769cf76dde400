"""HTTP transport for GraphQL v2: one requests.Session, retries, error classification, redaction.

Retry policy (the reason for each split is whether a resend can apply a change twice):

* urllib3 `Retry`, mounted on the session's adapter, handles what is safe for *every* request,
  mutations included: connection failures (nothing was sent), 429 and 503 (the request was turned
  away, not processed). It honours `Retry-After` (capped at 60 s), otherwise backs off
  exponentially. Its waits go through the injected `sleep`.
* Our own loop handles what urllib3 leaves alone because the request may already have been
  processed: read timeouts, a connection dropped while reading the answer, 500/502/504. Queries
  are reads, so they are retried here with exponential backoff. Mutations are NOT resent: the
  call raises `OpenCollectiveOutcomeUnknown` and the caller looks the object up (createExpense
  carries our `reference` and `customData`) before deciding to create it again.

Retries spent by urllib3 count against the same `max_retries` budget, so one call makes at most
about 2 x max_retries + 1 attempts in the worst mix of failures.

The token is sent per request (never put on the session, which may be shared with other hosts),
redirects are not followed (requests would forward a custom auth header to another host), and
every string that reaches an exception or a log line passes through `redact`.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NoReturn

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError
from urllib3.util.retry import Retry

from .errors import (
    OpenCollectiveAuthError,
    OpenCollectiveDataError,
    OpenCollectiveError,
    OpenCollectiveGraphQLError,
    OpenCollectiveNotFound,
    OpenCollectiveOutcomeUnknown,
    OpenCollectiveUnavailable,
)

logger = logging.getLogger("integrations.opencollective")

Sleep = Callable[[float], None]

# Open Collective rate-limits per minute: a longer Retry-After is not worth blocking a worker for.
MAX_WAIT_SECONDS = 60
_OWN_RETRY_STATUSES = frozenset({500, 502, 504})
_URLLIB3_RETRY_STATUSES = frozenset({429, 503})
_MAX_MESSAGE = 500
_SCOPE_IN_MESSAGE = re.compile(r'scope\s+"?([a-z_]+)"?', re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Operation:
    """What the transport needs to know about a request besides its text."""

    name: str
    mutation: bool = False
    # The token scope the API checks for this operation, named in auth errors when the server's
    # own message does not say.
    scope: str | None = None


class _SleepingRetry(Retry):
    """urllib3 Retry whose waits go through an injectable sleep (tests must not really wait).

    A Retry-After is treated as a minimum: the wait is max(Retry-After, exponential backoff).
    """

    sleep_fn: Sleep = staticmethod(time.sleep)

    def new(self, **kw: Any) -> _SleepingRetry:
        # Retry.new() rebuilds the object from its constructor arguments; carry the sleep over.
        retry = super().new(**kw)
        retry.sleep_fn = self.sleep_fn
        return retry

    def sleep(self, response: Any = None) -> None:
        wait = self.get_backoff_time()
        if self.respect_retry_after_header and response is not None:
            retry_after = self.get_retry_after(response)
            if retry_after is not None:
                wait = max(wait, retry_after)
        if wait > 0:
            logger.info("Open Collective: waiting %.1fs before retrying", wait)
            self.sleep_fn(wait)


def _decode_json(body: bytes) -> Any:
    """Parse JSON keeping non-integer numbers as exact Decimals and refusing NaN/Infinity."""

    def reject_constant(name: str) -> NoReturn:
        raise OpenCollectiveDataError(f"response contains the non-number {name}")

    return json.loads(body, parse_float=Decimal, parse_constant=reject_constant)


class GraphQLTransport:
    """POSTs GraphQL documents and returns `data`, or raises a classified OpenCollectiveError."""

    def __init__(
        self,
        api_url: str,
        token: str,
        *,
        session: requests.Session | None,
        timeout: float | tuple[float, float],
        max_retries: int,
        backoff: float,
        sleep: Sleep,
    ) -> None:
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self.api_url = api_url
        self._token = token
        self._timeout = timeout
        self._max_retries = max_retries
        self._backoff = backoff
        self._sleep = sleep
        self._owns_session = session is None
        self.session = session if session is not None else requests.Session()
        retry = _SleepingRetry(
            total=max_retries,
            connect=max_retries,
            read=False,  # a read error may follow a processed request: our loop decides
            status=max_retries,
            other=0,
            allowed_methods=frozenset({"POST"}),  # urllib3 does not retry POST by default
            status_forcelist=_URLLIB3_RETRY_STATUSES,
            backoff_factor=backoff,
            backoff_max=MAX_WAIT_SECONDS,
            retry_after_max=MAX_WAIT_SECONDS,
            respect_retry_after_header=True,
            raise_on_status=False,  # hand back the last 429/503 so we can report Retry-After
        )
        retry.sleep_fn = sleep
        # Mounted on this exact URL so a caller-provided session keeps its own adapters for
        # everything else.
        self.session.mount(api_url, HTTPAdapter(max_retries=retry))

    def close(self) -> None:
        if self._owns_session:
            self.session.close()

    def redact(self, text: str) -> str:
        if self._token:
            text = text.replace(self._token, "[redacted]")
        return text if len(text) <= _MAX_MESSAGE else text[:_MAX_MESSAGE] + "..."

    # --- the retry loop ----------------------------------------------------------------------

    def execute(self, op: Operation, document: str, variables: Mapping[str, Any]) -> Any:
        payload = {"operationName": op.name, "query": document, "variables": dict(variables)}
        retries = 0
        while True:
            started = time.monotonic()
            try:
                response = self.session.post(
                    self.api_url,
                    json=payload,
                    headers={"Personal-Token": self._token, "Accept": "application/json"},
                    timeout=self._timeout,
                    allow_redirects=False,
                )
            except requests.exceptions.RequestException as exc:
                problem = self._transport_failure(op, exc)
            else:
                # Retries urllib3 already made inside this call spend the same budget.
                history = getattr(getattr(response.raw, "retries", None), "history", ()) or ()
                retries += len(history)
                logger.debug(
                    "Open Collective %s: HTTP %s in %.2fs (attempt %d)",
                    op.name,
                    response.status_code,
                    time.monotonic() - started,
                    retries + 1,
                )
                if response.status_code not in _OWN_RETRY_STATUSES:
                    return self._handle_response(op, response)
                if op.mutation:
                    raise OpenCollectiveOutcomeUnknown(
                        f"Open Collective answered HTTP {response.status_code} to {op.name}; "
                        "it may or may not have been applied: look it up before retrying",
                        code=str(response.status_code),
                    )
                problem = f"HTTP {response.status_code}"
            if retries >= self._max_retries:
                raise OpenCollectiveUnavailable(
                    f"Open Collective {op.name} failed after {retries + 1} attempts: {problem}"
                )
            retries += 1
            wait = min(self._backoff * 2 ** (retries - 1), MAX_WAIT_SECONDS)
            logger.warning(
                "Open Collective %s: %s; retry %d/%d in %.1fs",
                op.name,
                problem,
                retries,
                self._max_retries,
                wait,
            )
            if wait > 0:
                self._sleep(wait)

    def _transport_failure(self, op: Operation, exc: requests.exceptions.RequestException) -> str:
        """Classify an exception from requests: raise if final, else describe it for a retry."""
        detail = self.redact(f"{type(exc).__name__}: {exc}")
        cause = exc.args[0] if exc.args else None
        if isinstance(exc, requests.exceptions.ConnectTimeout) or (
            isinstance(cause, MaxRetryError) and isinstance(cause.reason, ConnectTimeoutError)
        ):
            # Never reached the server, and urllib3 already spent the connect retries.
            # (NewConnectionError, "connection refused", is a ConnectTimeoutError subclass.)
            raise OpenCollectiveUnavailable(
                f"Open Collective unreachable for {op.name}: {detail}"
            ) from exc
        if isinstance(exc, requests.exceptions.SSLError):
            # A certificate problem does not go away by asking again.
            raise OpenCollectiveUnavailable(f"TLS failure for {op.name}: {detail}") from exc
        retryable = isinstance(cause, MaxRetryError) or isinstance(
            exc,
            requests.exceptions.ReadTimeout
            | requests.exceptions.ChunkedEncodingError
            | requests.exceptions.ConnectionError
            | requests.exceptions.ContentDecodingError,
        )
        if not retryable:
            raise OpenCollectiveError(f"Open Collective {op.name} failed: {detail}") from exc
        if op.mutation:
            raise OpenCollectiveOutcomeUnknown(
                f"no answer from Open Collective to {op.name} ({detail}); it may or may not "
                "have been applied: look it up before retrying"
            ) from exc
        return detail

    # --- answers -----------------------------------------------------------------------------

    def _handle_response(self, op: Operation, response: requests.Response) -> Any:
        status = response.status_code
        try:
            body = _decode_json(response.content) if response.content else None
        except ValueError:
            body = None
        if status in _URLLIB3_RETRY_STATUSES:
            retry_after = _retry_after_seconds(response)
            what = "rate limit (HTTP 429)" if status == 429 else "HTTP 503"
            raise OpenCollectiveUnavailable(
                f"Open Collective {op.name}: {what} persisted after {self._max_retries} retries",
                code=str(status),
                retry_after=retry_after,
            )
        if status in (401, 403):
            message = _http_error_message(body) or f"HTTP {status}"
            self._raise_auth(op, message, code=str(status))
        if isinstance(body, Mapping) and body.get("errors"):
            self._raise_graphql_errors(op, body["errors"])
        if status != 200:
            message = _http_error_message(body) or response.reason or ""
            raise OpenCollectiveError(
                self.redact(f"Open Collective {op.name}: HTTP {status} {message}".rstrip()),
                code=str(status),
            )
        if not isinstance(body, Mapping) or not isinstance(body.get("data"), Mapping):
            raise OpenCollectiveDataError(f"Open Collective {op.name}: response has no data")
        return body["data"]

    def _raise_auth(self, op: Operation, message: str, *, code: str | None) -> NoReturn:
        found = _SCOPE_IN_MESSAGE.search(message)
        scope = found.group(1).lower() if found else None
        if scope is None and code in ("Forbidden", "403"):
            scope = op.scope
        if found:
            hint = f"token lacks the '{scope}' scope"
        elif scope:
            # Forbidden without the server naming a scope: the likely cause, not a certainty.
            hint = f"token may lack the '{scope}' scope, or its user is not an admin here"
        else:
            hint = "token is missing, invalid or expired, or its user is not an admin here"
        raise OpenCollectiveAuthError(
            self.redact(f"Open Collective refused {op.name}: {hint} ({message})"),
            code=code,
            scope=scope,
        )

    def _raise_graphql_errors(self, op: Operation, errors: object) -> NoReturn:
        first = errors[0] if isinstance(errors, list) and errors else {}
        first = first if isinstance(first, Mapping) else {}
        message = str(first.get("message") or "unknown error")
        extensions = first.get("extensions")
        code = extensions.get("code") if isinstance(extensions, Mapping) else None
        code = str(code) if code is not None else None
        normalised = (code or "").replace("_", "").upper()
        lowered = message.lower()
        if normalised in ("FORBIDDEN", "UNAUTHORIZED", "UNAUTHENTICATED") or (
            "not allowed for operations in scope" in lowered
        ):
            self._raise_auth(op, message, code=code)
        if normalised == "NOTFOUND" or lowered.endswith("not found"):
            raise OpenCollectiveNotFound(
                self.redact(f"Open Collective {op.name}: {message}"), code=code
            )
        if normalised in ("RATELIMITEXCEEDED", "TOOMANYREQUESTS"):
            raise OpenCollectiveUnavailable(
                self.redact(f"Open Collective {op.name}: {message}"), code=code
            )
        count = len(errors) if isinstance(errors, list) else 1
        more = f" (+{count - 1} more)" if count > 1 else ""
        raise OpenCollectiveGraphQLError(
            self.redact(f"Open Collective rejected {op.name}: {message}{more}"), code=code
        )


def _http_error_message(body: object) -> str | None:
    """Open Collective's express error handler answers {"error": {"code", "type", "message"}}."""
    if isinstance(body, Mapping):
        error = body.get("error")
        if isinstance(error, Mapping) and error.get("message"):
            return str(error["message"])
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], Mapping):
            return str(errors[0].get("message") or "")
    return None


def _retry_after_seconds(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    return float(value) if value.isdigit() else None
