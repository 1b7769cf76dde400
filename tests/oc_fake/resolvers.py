"""Executes checked requests against the real schema, resolving from FakeOpenCollective's dicts.

Root fields are callables in a dict (graphql-core's default resolver calls them with `info` and
the field's arguments, defaults applied); nested values are the state's plain dicts. The errors
raised mimic the real API's messages and `extensions.code`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from graphql import GraphQLError, GraphQLResolveInfo, default_field_resolver, execute_sync

from .data import JSONDict, amount, iso
from .schema import CheckedRequest, load_schema
from .state import FakeOpenCollective

MAX_TRANSACTIONS_LIMIT = 1000
MAX_CUSTOM_DATA_BYTES = 10_000


@dataclass(frozen=True)
class Context:
    fake: FakeOpenCollective
    scopes: frozenset[str]


def fail(message: str, code: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code})


def require_scope(info: GraphQLResolveInfo, scope: str) -> None:
    if scope not in info.context.scopes:
        # The real API's message for a personal token created without the scope.
        raise fail(
            f'The Personal Token is not allowed for operations in scope "{scope}".', "Forbidden"
        )


def execute(fake: FakeOpenCollective, checked: CheckedRequest) -> dict[str, Any]:
    with fake.lock:
        scopes = frozenset(fake.scopes)
    result = execute_sync(
        load_schema(),
        checked.document,
        root_value=_root(),
        context_value=Context(fake, scopes),
        variable_values=checked.variables,
        operation_name=checked.operation_name,
        field_resolver=_field_resolver,
    )
    return dict(result.formatted)


def _field_resolver(source: Any, info: GraphQLResolveInfo, **args: Any) -> Any:
    # Accounts the fake manages carry `_balance`; their computed fields read live state.
    if isinstance(source, dict) and "_balance" in source:
        fake: FakeOpenCollective = info.context.fake
        if info.field_name == "stats":
            with fake.lock:
                balance = amount(source["_balance"], source["currency"])
            return {"balance": balance}
        if info.field_name == "transactions":
            return _transactions_page(info, source["slug"], args)
    return default_field_resolver(source, info, **args)


def _root() -> dict[str, Any]:
    return {
        "account": _account,
        "collective": _account,
        "transaction": _transaction,
        "expense": _expense,
        "expenses": _expenses,
        "createExpense": _create_expense,
    }


# --- queries ---------------------------------------------------------------------------------


def _find_account(fake: FakeOpenCollective, ref: Mapping[str, Any] | None) -> JSONDict | None:
    if not ref:
        return None
    with fake.lock:
        for acc in fake.accounts.values():
            if ref.get("slug") == acc["slug"] or ref.get("id") in (acc["id"],):
                return acc
            if ref.get("legacyId") is not None and ref.get("legacyId") == acc["legacyId"]:
                return acc
    return None


def _account(info: GraphQLResolveInfo, **args: Any) -> JSONDict | None:
    acc = _find_account(info.context.fake, {"slug": args.get("slug"), "id": args.get("id")})
    if acc is None and args.get("throwIfMissing", True):
        raise fail("Account Not Found", "NotFound")
    return acc


def _transactions_page(info: GraphQLResolveInfo, slug: str, args: dict[str, Any]) -> JSONDict:
    require_scope(info, "transactions")
    limit, offset = args["limit"], args["offset"]
    if limit > MAX_TRANSACTIONS_LIMIT:
        raise fail(f"Cannot fetch more than {MAX_TRANSACTIONS_LIMIT} transactions", "BadRequest")
    if limit < 0 or offset < 0:
        raise fail("limit and offset must be positive", "BadRequest")
    fake: FakeOpenCollective = info.context.fake
    with fake.lock:
        rows = list(fake.transactions.get(slug, []))
    if args.get("dateFrom"):
        start = datetime.fromisoformat(args["dateFrom"])
        start = start if start.tzinfo else start.replace(tzinfo=UTC)
        rows = [r for r in rows if datetime.fromisoformat(r["createdAt"]) >= start]
    for name in ("kind", "type"):
        wanted = args.get(name)
        if wanted:
            allowed = wanted if isinstance(wanted, list) else [wanted]
            rows = [r for r in rows if r[name] in allowed]
    order = args["orderBy"]
    rows.sort(key=lambda r: (r["createdAt"], r["id"]), reverse=order["direction"] == "DESC")
    return {
        "offset": offset,
        "limit": limit,
        "totalCount": len(rows),
        "nodes": rows[offset : offset + limit],
        "kinds": sorted({r["kind"] for r in rows}),
        "paymentMethodTypes": [],
    }


def _transaction(info: GraphQLResolveInfo, **args: Any) -> JSONDict:
    require_scope(info, "transactions")
    ref = args.get("transaction") or {"id": args.get("id")}
    fake: FakeOpenCollective = info.context.fake
    with fake.lock:
        for rows in fake.transactions.values():
            for row in rows:
                if ref.get("id") == row["id"] or (
                    ref.get("legacyId") is not None and ref.get("legacyId") == row["legacyId"]
                ):
                    return row
    raise fail("Transaction Not Found", "NotFound")


def _expense(info: GraphQLResolveInfo, **args: Any) -> JSONDict:
    ref = args.get("expense") or {"id": args.get("id")}
    fake: FakeOpenCollective = info.context.fake
    with fake.lock:
        for expense in fake.expenses.values():
            if ref.get("id") == expense["id"] or (
                ref.get("legacyId") is not None and ref.get("legacyId") == expense["legacyId"]
            ):
                return expense
    raise fail("Expense Not Found", "NotFound")


def _contains(data: Any, wanted: Any) -> bool:
    """JSONB containment (`@>`), which is what the customData filter does."""
    if isinstance(wanted, dict):
        return isinstance(data, dict) and all(
            k in data and _contains(data[k], v) for k, v in wanted.items()
        )
    return bool(data == wanted)


def _expenses(info: GraphQLResolveInfo, **args: Any) -> JSONDict:
    fake: FakeOpenCollective = info.context.fake
    acc = _find_account(fake, args.get("account"))
    if args.get("account") and acc is None:
        raise fail("Account Not Found", "NotFound")
    with fake.lock:
        found = [
            e
            for e in fake.expenses.values()
            if (acc is None or e["account"]["slug"] == acc["slug"])
            and (args.get("customData") is None or _contains(e["customData"], args["customData"]))
        ]
    found.sort(key=lambda e: e["legacyId"], reverse=args["orderBy"]["direction"] == "DESC")
    offset, limit = args["offset"], args["limit"]
    return {
        "offset": offset,
        "limit": limit,
        "totalCount": len(found),
        "nodes": found[offset : offset + limit],
    }


# --- mutations -------------------------------------------------------------------------------


def _create_expense(info: GraphQLResolveInfo, **args: Any) -> JSONDict:
    require_scope(info, "expenses")
    fake: FakeOpenCollective = info.context.fake
    data: dict[str, Any] = args["expense"]
    collective = _find_account(fake, args["account"])
    if collective is None:
        raise fail("Account Not Found", "NotFound")
    payee = _find_account(fake, data["payee"])
    if payee is None:
        raise fail("Payee account not found", "NotFound")
    currency = data.get("currency") or collective["currency"]
    items = [item for item in data.get("items") or [] if item]
    if not items:
        raise fail("Your expense needs to have at least one item", "ValidationFailed")
    total = 0
    for item in items:
        value = (item.get("amountV2") or {}).get("valueInCents")
        item_currency = (item.get("amountV2") or {}).get("currency") or currency
        if not isinstance(value, int) or value <= 0 or item_currency != currency:
            raise fail(
                "Each item needs a positive amount in the expense currency", "ValidationFailed"
            )
        total += value
    _check_payout_method(data["payoutMethod"])
    custom = data.get("customData")
    if custom is not None and (
        not isinstance(custom, dict) or len(json.dumps(custom).encode()) > MAX_CUSTOM_DATA_BYTES
    ):
        raise fail("customData must be an object of at most 10kB", "ValidationFailed")
    now = iso(datetime.now(UTC))
    expense: JSONDict = {
        "id": f"ex_{uuid.uuid4().hex[:16]}",
        "legacyId": fake.new_legacy_id(),
        "description": data["description"],
        "longDescription": data.get("longDescription"),
        "reference": data.get("reference"),
        "type": data["type"],
        "status": "PENDING",  # new expenses wait for a collective admin
        "currency": currency,
        "amountV2": amount(total, currency),
        "amount": total,
        "customData": custom,
        "createdAt": now,
        "incurredAt": now,
        "account": collective,
        "payee": payee,
        "items": items,
        "tags": list(data.get("tags") or []),
        "payoutMethodInput": data["payoutMethod"],
    }
    expense["publicId"] = expense["id"]
    with fake.lock:
        fake.expenses[expense["id"]] = expense
    return expense


def _check_payout_method(method: Mapping[str, Any]) -> None:
    if not any(method.get(key) for key in ("publicId", "id", "legacyId", "type")):
        raise fail("Payout method must have an id or a type", "ValidationFailed")
    if method.get("type") == "OTHER":
        data = method.get("data")
        if (
            not isinstance(data, dict)
            or not data.get("content")
            or set(data)
            - {
                "content",
                "currency",
            }
        ):
            raise fail(
                "Custom payout methods must contain only `content` and `currency`",
                "ValidationFailed",
            )
