"""Open Collective integration: a typed GraphQL v2 client (see client.py)."""

from .client import (
    DEFAULT_API_URL,
    STAGING_API_URL,
    OpenCollectiveClient,
    PayoutMethod,
)
from .errors import (
    OpenCollectiveAuthError,
    OpenCollectiveDataError,
    OpenCollectiveError,
    OpenCollectiveGraphQLError,
    OpenCollectiveNotFound,
    OpenCollectiveOutcomeUnknown,
    OpenCollectiveUnavailable,
)
from .models import CollectiveInfo, OCAccountRef, OCAmount, OCExpense, OCTransaction, minor_units

__all__ = [
    "DEFAULT_API_URL",
    "STAGING_API_URL",
    "CollectiveInfo",
    "OCAccountRef",
    "OCAmount",
    "OCExpense",
    "OCTransaction",
    "OpenCollectiveAuthError",
    "OpenCollectiveClient",
    "OpenCollectiveDataError",
    "OpenCollectiveError",
    "OpenCollectiveGraphQLError",
    "OpenCollectiveNotFound",
    "OpenCollectiveOutcomeUnknown",
    "OpenCollectiveUnavailable",
    "PayoutMethod",
    "minor_units",
]
