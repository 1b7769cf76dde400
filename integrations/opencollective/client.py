"""Open Collective GraphQL v2 client: the only place Commonpot talks to Open Collective.

Retries, error classification and token redaction live in `transport.py`; the typed results and
the exact money conversion in `models.py`; the GraphQL documents in `queries.py`.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

import requests

from . import queries
from .errors import OpenCollectiveAuthError, OpenCollectiveDataError, OpenCollectiveNotFound
from .models import (
    CollectiveInfo,
    OCExpense,
    OCTransaction,
    parse_collective,
    parse_expense,
    parse_transaction,
)
from .transport import GraphQLTransport, Operation, Sleep

DEFAULT_API_URL = "https://api.opencollective.com/graphql/v2"
STAGING_API_URL = "https://api-staging.opencollective.com/graphql/v2"
ENV_API_URL = "OPENCOLLECTIVE_API_URL"
ENV_TOKEN = "OPENCOLLECTIVE_TOKEN"

# The schema documents `limit` up to 1,000 for transactions.
MAX_PAGE_SIZE = 1000
# Open Collective's documented limit for an expense's customData.
MAX_CUSTOM_DATA_BYTES = 10_000
ExpenseType = Literal["GRANT", "INVOICE"]
_CURRENCY = re.compile(r"^[A-Z]{3}$")

_OP_COLLECTIVE = Operation("CommonpotCollective")
_OP_TRANSACTIONS = Operation("CommonpotTransactions", scope="transactions")
_OP_TRANSACTION = Operation("CommonpotTransaction", scope="transactions")
_OP_EXPENSE = Operation("CommonpotExpense", scope="expenses")
_OP_FIND_EXPENSES = Operation("CommonpotExpensesByCustomData", scope="expenses")
_OP_CREATE_EXPENSE = Operation("CommonpotCreateExpense", mutation=True, scope="expenses")


@dataclass(frozen=True, slots=True)
class PayoutMethod:
    """The `PayoutMethodInput` of an expense: a saved payout method, or one described inline.

    Use the constructors: `saved(public_id)` (one the payee saved on Open Collective),
    `account_balance()` (payee is an account under the same fiscal host, e.g. a grant to another
    collective), `other(content, currency)` (free-text instructions, type OTHER).
    """

    public_id: str | None = None
    type: str | None = None
    data: Mapping[str, Any] | None = None
    name: str | None = None
    currency: str | None = None

    @classmethod
    def saved(cls, public_id: str) -> PayoutMethod:
        return cls(public_id=public_id)

    @classmethod
    def account_balance(cls) -> PayoutMethod:
        return cls(type="ACCOUNT_BALANCE")

    @classmethod
    def other(cls, content: str, currency: str) -> PayoutMethod:
        # The schema says OTHER's data "must contain only `content` and `currency`".
        return cls(type="OTHER", data={"content": content, "currency": currency})

    def to_input(self) -> dict[str, Any]:
        if not self.public_id and not self.type:
            raise ValueError("a payout method needs a public_id or a type")
        fields = {
            "publicId": self.public_id,
            "type": self.type,
            "data": dict(self.data) if self.data is not None else None,
            "name": self.name,
            "currency": self.currency,
        }
        return {key: value for key, value in fields.items() if value is not None}


class OpenCollectiveClient:
    """Typed access to the few Open Collective operations Commonpot needs.

    `timeout` is requests' (connect, read) pair: the read timeout bounds each wait for bytes,
    not the whole call. `sleep` is injectable so tests can observe backoff without waiting.
    The token is kept private: it is not in `repr()`, log lines or exception messages.
    Like requests.Session, an instance is not meant to be shared between threads.
    """

    def __init__(
        self,
        api_url: str,
        token: str,
        *,
        session: requests.Session | None = None,
        timeout: float | tuple[float, float] = (5, 30),
        max_retries: int = 5,
        backoff: float = 0.5,
        sleep: Sleep = time.sleep,
    ) -> None:
        url = urlsplit(api_url)
        local = url.hostname in ("127.0.0.1", "localhost", "::1")
        if url.scheme != "https" and not (url.scheme == "http" and local):
            # The token travels in a header: plain HTTP only to this machine (tests, a proxy).
            raise ValueError("api_url must be https:// (http:// only for localhost)")
        if not token or token != token.strip() or any(c in token for c in "\r\n\0"):
            # Also guards against header injection through a mangled environment variable.
            raise OpenCollectiveAuthError("Open Collective token is empty or malformed")
        self.api_url = api_url
        self._transport = GraphQLTransport(
            api_url,
            token,
            session=session,
            timeout=timeout,
            max_retries=max_retries,
            backoff=backoff,
            sleep=sleep,
        )

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, **kwargs: Any
    ) -> OpenCollectiveClient:
        """Build from OPENCOLLECTIVE_API_URL (optional) and OPENCOLLECTIVE_TOKEN (required)."""
        env = os.environ if environ is None else environ
        token = env.get(ENV_TOKEN, "").strip()
        if not token:
            raise OpenCollectiveAuthError(f"{ENV_TOKEN} is not set")
        api_url = env.get(ENV_API_URL, "").strip() or DEFAULT_API_URL
        return cls(api_url, token, **kwargs)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(api_url={self.api_url!r}, token=<redacted>)"

    def close(self) -> None:
        """Close the HTTP session if the client created it (a passed-in one is left open)."""
        self._transport.close()

    def __enter__(self) -> OpenCollectiveClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- generic -----------------------------------------------------------------------------

    def execute(
        self,
        document: str,
        variables: Mapping[str, Any] | None = None,
        *,
        operation_name: str,
        mutation: bool = False,
        scope: str | None = None,
    ) -> Mapping[str, Any]:
        """Run any GraphQL document and return its `data`. `mutation=True` disables the resends
        that could apply a change twice; `scope` is the token scope named in auth errors."""
        op = Operation(operation_name, mutation=mutation, scope=scope)
        data: Mapping[str, Any] = self._transport.execute(op, document, variables or {})
        return data

    # --- reads -------------------------------------------------------------------------------

    def get_collective(self, slug: str) -> CollectiveInfo:
        data = self._transport.execute(_OP_COLLECTIVE, queries.COLLECTIVE_QUERY, {"slug": slug})
        account = data.get("account")
        if account is None:
            raise OpenCollectiveNotFound(f"no Open Collective account with slug {slug!r}")
        return parse_collective(account)

    def iter_transactions(
        self,
        slug: str,
        *,
        offset: int = 0,
        page_size: int = 100,
        date_from: str | None = None,
    ) -> Iterator[OCTransaction]:
        """Yield the account's transactions oldest first, fetching one page at a time.

        Each item carries its absolute `offset`; after storing one, resume later with
        `offset=item.next_offset` (with the same `date_from`). Only the current page is held.
        """
        # Checked here, not inside the generator, so a bad argument fails at the call site.
        if offset < 0:
            raise ValueError("offset must be >= 0")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        return self._pages(slug, offset, page_size, date_from)

    def _pages(
        self, slug: str, offset: int, page_size: int, date_from: str | None
    ) -> Iterator[OCTransaction]:
        while True:
            variables: dict[str, Any] = {"slug": slug, "limit": page_size, "offset": offset}
            if date_from is not None:
                variables["dateFrom"] = date_from
            data = self._transport.execute(_OP_TRANSACTIONS, queries.TRANSACTIONS_QUERY, variables)
            account = data.get("account")
            if account is None:
                raise OpenCollectiveNotFound(f"no Open Collective account with slug {slug!r}")
            collection = account.get("transactions") if isinstance(account, Mapping) else None
            if not isinstance(collection, Mapping) or not isinstance(collection.get("nodes"), list):
                raise OpenCollectiveDataError("transactions page has no nodes list")
            total = collection.get("totalCount")
            # Parse the whole page before yielding any of it: a bad row stops the sync before
            # the caller has stored part of a page it would then have to resume inside.
            page = [
                parse_transaction(node, offset + i) for i, node in enumerate(collection["nodes"])
            ]
            yield from page
            offset += len(page)
            if len(page) < page_size or (isinstance(total, int) and offset >= total):
                return

    def get_transaction(
        self, id: str | None = None, *, legacy_id: int | None = None
    ) -> OCTransaction:
        """Fetch one transaction by public id, or by the integer legacyId webhooks carry."""
        ref = _reference(id, legacy_id)
        data = self._transport.execute(_OP_TRANSACTION, queries.TRANSACTION_QUERY, {"ref": ref})
        if data.get("transaction") is None:
            raise OpenCollectiveNotFound(f"no Open Collective transaction {ref}")
        return parse_transaction(data["transaction"])

    def get_expense(self, id: str | None = None, *, legacy_id: int | None = None) -> OCExpense:
        """Fetch one expense by public id (`ex_...`), or by the integer id webhooks carry."""
        ref = _reference(id, legacy_id)
        data = self._transport.execute(_OP_EXPENSE, queries.EXPENSE_QUERY, {"ref": ref})
        if data.get("expense") is None:
            raise OpenCollectiveNotFound(f"no Open Collective expense {ref}")
        return parse_expense(data["expense"])

    def find_expenses(
        self, collective_slug: str, *, custom_data: Mapping[str, Any], limit: int = 10
    ) -> list[OCExpense]:
        """Expenses of the collective whose customData contains `custom_data`: how a caller
        learns whether a create_expense that ended in OpenCollectiveOutcomeUnknown happened."""
        variables = {
            "account": {"slug": collective_slug},
            "customData": dict(custom_data),
            "limit": limit,
        }
        data = self._transport.execute(
            _OP_FIND_EXPENSES, queries.EXPENSES_BY_CUSTOM_DATA_QUERY, variables
        )
        collection = data.get("expenses")
        if not isinstance(collection, Mapping) or not isinstance(collection.get("nodes"), list):
            raise OpenCollectiveDataError("expenses answer has no nodes list")
        return [parse_expense(node) for node in collection["nodes"]]

    # --- writes ------------------------------------------------------------------------------

    def create_expense(
        self,
        collective_slug: str,
        *,
        payee_slug: str,
        description: str,
        amount_minor: int,
        currency: str,
        expense_type: ExpenseType,
        custom_data: Mapping[str, Any],
        reference: str,
        payout_method: PayoutMethod,
        tags: Sequence[str] = (),
    ) -> OCExpense:
        """Submit a one-item expense; Open Collective creates it PENDING for admins to approve.

        Never resent automatically: if the answer is lost this raises
        OpenCollectiveOutcomeUnknown, and the caller should `find_expenses(custom_data=...)`
        before creating it again. Put the proposal's id in `custom_data` for that.
        """
        if isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
            raise TypeError("amount_minor must be an int (minor units)")
        if amount_minor <= 0:
            raise ValueError("amount_minor must be positive")
        if not _CURRENCY.match(currency):
            raise ValueError(f"currency must be a 3-letter ISO code, got {currency!r}")
        if expense_type not in ("GRANT", "INVOICE"):
            raise ValueError(f"expense_type must be GRANT or INVOICE, got {expense_type!r}")
        if not description.strip() or not reference.strip():
            raise ValueError("description and reference must not be empty")
        encoded = json.dumps(dict(custom_data), separators=(",", ":"), allow_nan=False)
        if len(encoded.encode()) > MAX_CUSTOM_DATA_BYTES:
            raise ValueError(f"custom_data is over {MAX_CUSTOM_DATA_BYTES} bytes as JSON")
        expense: dict[str, Any] = {
            "type": expense_type,
            "description": description,
            "currency": currency,
            "payee": {"slug": payee_slug},
            "payoutMethod": payout_method.to_input(),
            # AmountInput.valueInCents is an Int: the integer goes out as it is.
            "items": [
                {
                    "description": description,
                    "amountV2": {"valueInCents": amount_minor, "currency": currency},
                }
            ],
            "customData": json.loads(encoded),
            "reference": reference,
        }
        if tags:
            expense["tags"] = list(tags)
        data = self._transport.execute(
            _OP_CREATE_EXPENSE,
            queries.CREATE_EXPENSE_MUTATION,
            {"account": {"slug": collective_slug}, "expense": expense},
        )
        created = parse_expense(data.get("createExpense"))
        if created.amount.value_minor != amount_minor or created.amount.currency != currency:
            # Open Collective computes the total from the items; a mismatch means we are not
            # talking about the money we think we are.
            raise OpenCollectiveDataError(
                f"expense {created.id} was created for {created.amount.value_minor} "
                f"{created.amount.currency}, not {amount_minor} {currency}"
            )
        return created


def _reference(id: str | None, legacy_id: int | None) -> dict[str, Any]:
    if (id is None) == (legacy_id is None):
        raise ValueError("give exactly one of id or legacy_id")
    if id is not None:
        return {"id": id}
    if isinstance(legacy_id, bool) or not isinstance(legacy_id, int):
        raise TypeError("legacy_id must be an int")
    return {"legacyId": legacy_id}
