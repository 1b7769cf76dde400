from ledger import operations
from ledger.db import Database


def test_contribution_then_balance(db: Database, pot_slug: str) -> None:
    with db.write() as session:
        operations.record(session, pot_slug, "contribution", 1000, memo="m", actor="t")
    from ledger import pots

    with db.read() as session:
        summary = pots.summarise(session, pots.get_pot(session, pot_slug))
    assert summary.available == 1000
