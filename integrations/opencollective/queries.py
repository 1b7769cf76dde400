"""GraphQL documents sent to Open Collective's API v2.

Each one is validated against the real schema (tests/fixtures/opencollective/schemaV2.graphql) by
the test suite, and again on every request by the fake server the tests run against. Operation
names are prefixed "Commonpot" so they are recognisable in Open Collective's logs.
"""

from __future__ import annotations

_AMOUNT = "{ valueInCents currency }"

TRANSACTION_FIELDS = f"""
fragment CommonpotTransactionFields on Transaction {{
  id
  legacyId
  group
  type
  kind
  createdAt
  description
  amount {_AMOUNT}
  netAmount {_AMOUNT}
  paymentProcessorFee {_AMOUNT}
  hostFee {_AMOUNT}
  isRefund
  isRefunded
  refundTransaction {{ id }}
  expense {{ id legacyId }}
  account {{ slug name }}
  oppositeAccount {{ slug name }}
  fromAccount {{ slug name }}
  toAccount {{ slug name }}
}}
"""

EXPENSE_FIELDS = f"""
fragment CommonpotExpenseFields on Expense {{
  id
  legacyId
  status
  type
  description
  reference
  currency
  amountV2 {_AMOUNT}
  customData
  createdAt
  account {{ slug }}
  payee {{ slug }}
}}
"""

# `account` (the Account interface) rather than `collective`, so projects, events and funds that
# hold their own pot work too.
COLLECTIVE_QUERY = f"""
query CommonpotCollective($slug: String!) {{
  account(slug: $slug) {{
    slug
    name
    currency
    stats {{ balance {_AMOUNT} }}
  }}
}}
"""

# Ascending by creation date (ties broken by id on the server): new transactions append at the
# end, so an offset that was reached stays valid and a sync can resume from it.
TRANSACTIONS_QUERY = (
    """
query CommonpotTransactions($slug: String!, $limit: Int!, $offset: Int!, $dateFrom: DateTime) {
  account(slug: $slug) {
    transactions(
      limit: $limit
      offset: $offset
      dateFrom: $dateFrom
      orderBy: { field: CREATED_AT, direction: ASC }
    ) {
      totalCount
      nodes { ...CommonpotTransactionFields }
    }
  }
}
"""
    + TRANSACTION_FIELDS
)

# Webhooks carry the integer legacyId; the API resolves either through TransactionReferenceInput.
TRANSACTION_QUERY = (
    """
query CommonpotTransaction($ref: TransactionReferenceInput!) {
  transaction(transaction: $ref) { ...CommonpotTransactionFields }
}
"""
    + TRANSACTION_FIELDS
)

EXPENSE_QUERY = (
    """
query CommonpotExpense($ref: ExpenseReferenceInput!) {
  expense(expense: $ref) { ...CommonpotExpenseFields }
}
"""
    + EXPENSE_FIELDS
)

# How a caller finds out whether a createExpense whose answer was lost did happen: the customData
# filter matches expenses whose customData contains the given object.
EXPENSES_BY_CUSTOM_DATA_QUERY = (
    """
query CommonpotExpensesByCustomData(
  $account: AccountReferenceInput!
  $customData: JSON!
  $limit: Int!
) {
  expenses(
    account: $account
    customData: $customData
    limit: $limit
    offset: 0
    orderBy: { field: CREATED_AT, direction: ASC }
  ) {
    totalCount
    nodes { ...CommonpotExpenseFields }
  }
}
"""
    + EXPENSE_FIELDS
)

CREATE_EXPENSE_MUTATION = (
    """
mutation CommonpotCreateExpense($account: AccountReferenceInput!, $expense: ExpenseCreateInput!) {
  createExpense(account: $account, expense: $expense) { ...CommonpotExpenseFields }
}
"""
    + EXPENSE_FIELDS
)

ALL_DOCUMENTS: dict[str, str] = {
    "CommonpotCollective": COLLECTIVE_QUERY,
    "CommonpotTransactions": TRANSACTIONS_QUERY,
    "CommonpotTransaction": TRANSACTION_QUERY,
    "CommonpotExpense": EXPENSE_QUERY,
    "CommonpotExpensesByCustomData": EXPENSES_BY_CUSTOM_DATA_QUERY,
    "CommonpotCreateExpense": CREATE_EXPENSE_MUTATION,
}
