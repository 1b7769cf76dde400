"""Scripted, realistic Open Collective data, shaped like GraphQL results (plain dicts).

Dicts rather than classes so a test can tweak any field the way the real API could send it
(`txs[3]["amount"]["valueInCents"] = 12.5`), and graphql-core's default resolver reads them as
they are. Abstract types carry `__typename` for graphql-core's default type resolver.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

JSONDict = dict[str, Any]

DEFAULT_START = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)


def amount(value_in_cents: float, currency: str) -> JSONDict:
    """An `Amount`. valueInCents is a Float in the schema, so it is stored as one."""
    return {
        "valueInCents": float(value_in_cents),
        "value": value_in_cents / 100,
        "currency": currency,
    }


def account(
    slug: str,
    *,
    name: str | None = None,
    typename: str = "Individual",
    currency: str = "GBP",
    legacy_id: int = 0,
) -> JSONDict:
    """An `Account` (interface) value; `__typename` picks the concrete type."""
    return {
        "__typename": typename,
        "id": f"acc_{uuid.uuid5(uuid.NAMESPACE_URL, slug).hex[:16]}",
        "legacyId": legacy_id or (uuid.uuid5(uuid.NAMESPACE_URL, slug).int % 100_000),
        "slug": slug,
        "name": name if name is not None else slug.replace("-", " ").title(),
        "currency": currency,
        "type": typename.upper(),
    }


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class _Builder:
    def __init__(self, collective: JSONDict, currency: str, start: datetime, seed: int) -> None:
        self.rng = random.Random(seed)
        self.collective = collective
        self.currency = currency
        self.now = start
        self.next_legacy_id = 10_000 + seed * 100_000
        self.rows: list[JSONDict] = []
        self.refundable: list[JSONDict] = []
        self.host = account("fiscal-host", name="Fiscal Host", typename="Host", currency=currency)
        self.stripe = account("stripe", name="Stripe", typename="Vendor", currency=currency)
        self.people = [account(f"member-{i}", currency=currency) for i in range(1, 9)]

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def tx(
        self,
        *,
        kind: str,
        type_: str,
        cents: int,
        opposite: JSONDict,
        group: str,
        description: str,
        expense: JSONDict | None = None,
        is_refund: bool = False,
    ) -> JSONDict:
        credit = type_ == "CREDIT"
        self.next_legacy_id += 1
        row: JSONDict = {
            "__typename": "Credit" if credit else "Debit",
            "id": self.uuid(),
            "legacyId": self.next_legacy_id,
            "group": group,
            "type": type_,
            "kind": kind,
            "createdAt": iso(self.now),
            "description": description,
            "amount": amount(cents, self.currency),
            # Fees are separate rows in the same group, so a row's net amount is its amount.
            "netAmount": amount(cents, self.currency),
            "paymentProcessorFee": amount(0, self.currency),
            "hostFee": amount(0, self.currency),
            "isRefund": is_refund,
            "isRefunded": False,
            "refundTransaction": None,
            "expense": expense,
            "account": self.collective,
            "oppositeAccount": opposite,
            "fromAccount": opposite if credit else self.collective,
            "toAccount": self.collective if credit else opposite,
        }
        self.rows.append(row)
        return row

    def contribution(self) -> None:
        group, person = self.uuid(), self.rng.choice(self.people)
        gross = self.rng.randrange(500, 10_001, 50)
        credit = self.tx(
            kind="CONTRIBUTION",
            type_="CREDIT",
            cents=gross,
            opposite=person,
            group=group,
            description=f"Contribution from {person['name']}",
        )
        fee = round(gross * 0.029) + 20
        self.tx(
            kind="PAYMENT_PROCESSOR_FEE",
            type_="DEBIT",
            cents=-fee,
            opposite=self.stripe,
            group=group,
            description="Stripe payment processor fee",
        )
        self.tx(
            kind="HOST_FEE",
            type_="DEBIT",
            cents=-round(gross * 0.05),
            opposite=self.host,
            group=group,
            description="Host fee",
        )
        self.refundable.append(credit)

    def added_funds(self) -> None:
        self.tx(
            kind="ADDED_FUNDS",
            type_="CREDIT",
            cents=self.rng.randrange(1_000, 50_001, 100),
            opposite=self.host,
            group=self.uuid(),
            description="Grant from the fiscal host",
        )

    def expense(self) -> None:
        payee = self.rng.choice(self.people)
        self.next_legacy_id += 1
        ref = {"id": f"ex_{self.uuid().replace('-', '')[:12]}", "legacyId": self.next_legacy_id}
        self.tx(
            kind="EXPENSE",
            type_="DEBIT",
            cents=-self.rng.randrange(100, 20_001, 10),
            opposite=payee,
            group=self.uuid(),
            description=f"Expense paid to {payee['name']}",
            expense=ref,
        )

    def refund(self) -> None:
        original = self.refundable.pop(self.rng.randrange(len(self.refundable)))
        refund = self.tx(
            kind="CONTRIBUTION",
            type_="DEBIT",
            cents=-int(original["amount"]["valueInCents"]),
            opposite=original["oppositeAccount"],
            group=self.uuid(),
            description=f"Refund of {original['description']}",
            is_refund=True,
        )
        # Open Collective links both ways: the refund points at the original and vice versa.
        refund["refundTransaction"] = original
        original["refundTransaction"] = refund
        original["isRefunded"] = True


def make_transactions(
    n: int,
    currency: str = "GBP",
    *,
    collective: JSONDict | None = None,
    start: datetime = DEFAULT_START,
    seed: int = 0,
) -> list[JSONDict]:
    """Exactly `n` transactions, oldest first, in realistic groups.

    Mix: CONTRIBUTION CREDITs each followed by their PAYMENT_PROCESSOR_FEE and HOST_FEE DEBITs
    (same `group`, same `createdAt`), ADDED_FUNDS CREDITs, EXPENSE DEBITs linked to an expense,
    and refunds (a CONTRIBUTION DEBIT with isRefund, linked both ways by refundTransaction).
    Amounts are whole minor units; debits are negative. Deterministic for a given seed.
    """
    target = collective or account("commonpot-test", typename="Collective", currency=currency)
    b = _Builder(target, currency, start, seed)
    while len(b.rows) < n:
        left = n - len(b.rows)
        roll = b.rng.random()
        if left >= 3 and roll < 0.45:
            b.contribution()
        elif roll < 0.65 or (left < 3 and roll < 0.75):
            b.added_funds()
        elif roll < 0.9 or not b.refundable:
            b.expense()
        else:
            b.refund()
        # Groups share a timestamp; the next group comes a few minutes to a few hours later.
        b.now += timedelta(minutes=b.rng.randrange(3, 240))
    # The API orders by createdAt then id; hand them back in exactly that order.
    return sorted(b.rows, key=lambda row: (row["createdAt"], row["id"]))
