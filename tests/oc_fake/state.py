"""Scripted in-memory state of the fake Open Collective, and the faults it should inject.

Tests arrange the world here (`add_collective`, `generate_transactions`, `set_expense_status`,
`pay_expense`), choose what goes wrong next (`fail_next`, `delay_next`, `drop_next`, `deny_scope`;
each optionally for one operation only), and inspect what the client sent (`requests`).
"""

from __future__ import annotations

import itertools
import threading
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from .data import JSONDict, account, amount, iso, make_transactions

ALL_SCOPES = frozenset({"account", "expenses", "transactions", "webhooks", "host", "orders"})
EXPENSE_STATUSES = frozenset(
    {
        "DRAFT",
        "UNVERIFIED",
        "PENDING",
        "INCOMPLETE",
        "APPROVED",
        "REJECTED",
        "PROCESSING",
        "ERROR",
        "PAID",
        "SCHEDULED_FOR_PAYMENT",
        "SPAM",
        "CANCELED",
        "INVITE_DECLINED",
    }
)


@dataclass(frozen=True)
class Fault:
    kind: Literal["status", "delay", "drop"]
    status: int = 500
    retry_after: str | None = None
    seconds: float = 0.0
    # Only a request with this operationName takes the fault (None: the next request, whatever).
    operation: str | None = None


@dataclass(frozen=True)
class RecordedRequest:
    operation_name: str | None
    variables: dict[str, Any]
    had_token: bool  # the Personal-Token header was present (its value is never recorded)
    fault: Fault | None


@dataclass
class FakeOpenCollective:
    """The fake's world. Thread-safe: the HTTP server answers each request on its own thread."""

    token: str = "test-token-0123456789abcdef"
    scopes: set[str] = field(default_factory=lambda: set(ALL_SCOPES))
    accounts: dict[str, JSONDict] = field(default_factory=dict)
    transactions: dict[str, list[JSONDict]] = field(default_factory=dict)
    expenses: dict[str, JSONDict] = field(default_factory=dict)
    requests: list[RecordedRequest] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _faults: deque[Fault] = field(default_factory=deque, repr=False)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(50_001))

    # --- arranging the world ---------------------------------------------------------------

    def add_account(
        self,
        slug: str,
        *,
        name: str | None = None,
        typename: str = "Individual",
        currency: str = "GBP",
        balance_minor: float = 0,
    ) -> JSONDict:
        acc = account(slug, name=name, typename=typename, currency=currency)
        # Private keys (leading underscore) are not GraphQL fields; resolvers.py reads them at
        # query time, so `set_balance` after arranging is visible.
        acc["_balance"] = balance_minor
        with self.lock:
            self.accounts[slug] = acc
            self.transactions.setdefault(slug, [])
        return acc

    def add_collective(
        self,
        slug: str,
        *,
        name: str | None = None,
        currency: str = "GBP",
        balance_minor: float = 0,
    ) -> JSONDict:
        return self.add_account(
            slug, name=name, typename="Collective", currency=currency, balance_minor=balance_minor
        )

    def set_balance(self, slug: str, value_in_cents: float) -> None:
        """Any float, so tests can make the API send a non-integral balance."""
        with self.lock:
            self.accounts[slug]["_balance"] = value_in_cents

    def add_transactions(self, slug: str, rows: list[JSONDict]) -> None:
        with self.lock:
            self.transactions.setdefault(slug, []).extend(rows)

    def generate_transactions(self, slug: str, n: int, *, seed: int = 0) -> list[JSONDict]:
        """Add `n` realistic transactions to the collective and set its balance to their sum."""
        acc = self.accounts[slug]
        rows = make_transactions(n, acc["currency"], collective=acc, seed=seed)
        with self.lock:
            self.add_transactions(slug, rows)
            acc["_balance"] = sum(
                int(row["amount"]["valueInCents"]) for row in self.transactions[slug]
            )
        return rows

    def add_expense(self, collective_slug: str, **fields: Any) -> JSONDict:
        """Insert an expense directly (as if created on the website)."""
        acc = self.accounts[collective_slug]
        legacy_id = next(self._ids)
        cents = int(fields.pop("amount_minor", 1000))
        expense: JSONDict = {
            "id": f"ex_{uuid.uuid4().hex[:16]}",
            "legacyId": legacy_id,
            "description": "Expense",
            "reference": None,
            "type": "INVOICE",
            "status": "PENDING",
            "currency": acc["currency"],
            "amountV2": amount(cents, acc["currency"]),
            "amount": cents,
            "customData": None,
            "createdAt": iso(datetime.now(UTC)),
            "incurredAt": iso(datetime.now(UTC)),
            "account": acc,
            "payee": acc,
            "items": [],
            "tags": [],
        }
        expense["publicId"] = expense["id"]
        expense.update(fields)
        with self.lock:
            self.expenses[expense["id"]] = expense
        return expense

    def set_expense_status(self, expense_id: str, status: str) -> None:
        if status not in EXPENSE_STATUSES:
            raise ValueError(f"not an ExpenseStatus: {status}")
        with self.lock:
            self.expenses[expense_id]["status"] = status

    def pay_expense(self, expense_id: str, *, when: datetime | None = None) -> JSONDict:
        """The host pays the expense: status PAID and, as on Open Collective, an EXPENSE DEBIT
        on the collective, linked to the expense, for its amount. Returns the transaction."""
        with self.lock:
            expense = self.expenses[expense_id]
            collective = expense["account"]
            cents = int(expense["amountV2"]["valueInCents"])
            currency = expense["currency"]
            payee = expense["payee"]
            row: JSONDict = {
                "__typename": "Debit",
                "id": str(uuid.uuid4()),
                "legacyId": next(self._ids),
                "group": str(uuid.uuid4()),
                "type": "DEBIT",
                "kind": "EXPENSE",
                "createdAt": iso(when or datetime.now(UTC)),
                "description": expense["description"],
                "amount": amount(-cents, currency),
                "netAmount": amount(-cents, currency),
                "paymentProcessorFee": amount(0, currency),
                "hostFee": amount(0, currency),
                "isRefund": False,
                "isRefunded": False,
                "refundTransaction": None,
                "expense": {"id": expense["id"], "legacyId": expense["legacyId"]},
                "account": collective,
                "oppositeAccount": payee,
                "fromAccount": collective,
                "toAccount": payee,
            }
            expense["status"] = "PAID"
            self.transactions.setdefault(collective["slug"], []).append(row)
            collective["_balance"] = collective.get("_balance", 0) - cents
        return row

    def expenses_of(self, collective_slug: str) -> list[JSONDict]:
        """The collective's expenses, oldest first."""
        with self.lock:
            found = [e for e in self.expenses.values() if e["account"]["slug"] == collective_slug]
        return sorted(found, key=lambda e: e["legacyId"])

    def deny_scope(self, scope: str) -> None:
        """Make the token lack a scope, like a personal token created without it."""
        with self.lock:
            self.scopes.discard(scope)

    # --- faults: each applies to one upcoming request, in the order queued -------------------

    def fail_next(
        self,
        status: int = 500,
        *,
        retry_after: float | str | None = None,
        times: int = 1,
        operation: str | None = None,
    ) -> None:
        """Answer the next request(s) with this HTTP status (429 and 503 with Retry-After)."""
        header = None if retry_after is None else str(retry_after)
        with self.lock:
            self._faults.extend(
                Fault("status", status=status, retry_after=header, operation=operation)
                for _ in range(times)
            )

    def delay_next(self, seconds: float, *, times: int = 1, operation: str | None = None) -> None:
        """Process the request, then wait this long before answering (client read timeout)."""
        with self.lock:
            self._faults.extend(
                Fault("delay", seconds=seconds, operation=operation) for _ in range(times)
            )

    def drop_next(self, *, times: int = 1, operation: str | None = None) -> None:
        """Process the request, send the headers and half the body, then close the socket."""
        with self.lock:
            self._faults.extend(Fault("drop", operation=operation) for _ in range(times))

    def take_fault(self, operation: str | None = None) -> Fault | None:
        """The first queued fault for this request: one for any request, or for its operation."""
        with self.lock:
            for i, fault in enumerate(self._faults):
                if fault.operation is None or fault.operation == operation:
                    del self._faults[i]
                    return fault
            return None

    @property
    def pending_faults(self) -> int:
        with self.lock:
            return len(self._faults)

    def record(self, request: RecordedRequest) -> None:
        with self.lock:
            self.requests.append(request)

    def operations(self) -> list[str | None]:
        with self.lock:
            return [r.operation_name for r in self.requests]

    def new_legacy_id(self) -> int:
        with self.lock:
            return next(self._ids)
