"""Every table of the application on one ``MetaData``: import this to see the whole schema."""

from __future__ import annotations

import integrations.opencollective.store  # noqa: F401
import ledger.audit.models
import ledger.checkpoints
import ledger.governance.models
import ledger.idempotency
import ledger.people.models
import ledger.rounds.models  # noqa: F401
from ledger.models import Base

metadata = Base.metadata
