"""The governance audit log: every decision-making event of a pot, append-only and hash-chained.

Each event's ``hash`` is SHA-256 over the RFC 8785 canonical JSON of
``{"pot", "seq", "recorded_at", "kind", "actor", "proposal", "data", "prev_hash"}``, and its
``prev_hash`` is the previous event's hash (64 zeros for the first), exactly like the ledger's
entries (docs/ledger-format.md). Database triggers refuse UPDATE and DELETE on the table.

Ballot secrecy is kept at the source: under a secret ballot the service records a vote event
without the voter or the choice, so no reader of the log (or of the database) can learn them.
"""

from ledger.audit.log import EVENT_KINDS, event_data, list_events, record, verify_events

__all__ = ["EVENT_KINDS", "event_data", "list_events", "record", "verify_events"]
