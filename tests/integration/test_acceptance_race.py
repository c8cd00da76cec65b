"""A tender is never accepted for more than it offers, whatever the concurrency.

Many threads race to accept the same tenders through the in-process service (each request
on its own database connection and transaction). The end-to-end twin of this test races
through a running gunicorn server (tests/e2e).
"""

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from sqlalchemy import func, select

from service.store import positions
from service.store.tables import tender, transaction
from tests.support import messages as msg


def test_concurrent_acceptances_never_overfill_a_tender(service, engine):
    service.call("/EiTender", msg.create_tender("r1", "party-A", "party-B", ("t1", msg.product(quantity="10")), ("t2", msg.product(quantity="7"))))

    def take(i: int):
        tender_id = "t1" if i % 2 else "t2"
        party = "party-B"
        payload = msg.create_transaction(f"a{i}", party, "party-A", (f"x{i}", tender_id, msg.product(side="buy", quantity="1.5", state="transaction")))
        return service.call("/EiTransaction", payload).code

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(take, range(40)))

    assert set(codes) <= {"200", "460", "410"}
    with engine.connect() as conn:
        for tender_id, offered in (("t1", Decimal(10)), ("t2", Decimal(7))):
            pk, left = conn.execute(select(tender.c.id, tender.c.remaining_kw).where(tender.c.tender_id == tender_id)).one()
            taken = conn.execute(select(func.coalesce(func.sum(transaction.c.quantity_kw), 0)).where(transaction.c.tender_pk == pk)).scalar_one()
            assert taken + left == offered
            assert taken == Decimal("1.5") * (offered // Decimal("1.5"))  # as many as fit, no more
        assert positions.verify(conn) == []
    assert codes.count("200") == int(10 // 1.5) + int(7 // 1.5)
