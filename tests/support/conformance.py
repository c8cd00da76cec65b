"""Steps the conformance tests (tests/conformance) share: offer, accept, read back."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from service.soap.ns import EI, TEMIX, q
from service.store.tables import tender
from tests.support import messages as msg


def offer(service, tender_id, product=None, *, party="party-A", to="party-B", rid=None):
    """``party`` tenders ``product`` (default: sell 10 kW, 10:00-11:00) to ``to``; must be accepted."""
    reply = service.call("/EiTender", msg.create_tender(rid or f"offer-{tender_id}", party, to, (tender_id, product if product is not None else msg.product())))
    assert reply.code == "200", reply.description
    return reply


def accept(service, rid, tender_id, *, quantity="10", side="buy", party="party-B", maker="party-A", **product):
    """``party`` accepts ``quantity`` kW of ``maker``'s tender on ``side``."""
    taken = msg.product(side=side, quantity=quantity, state="transaction", **product)
    return service.call("/EiTransaction", msg.create_transaction(rid, party, maker, (f"x-{rid}", tender_id, taken)))


def remaining_kw(engine, tender_id) -> Decimal:
    with engine.connect() as conn:
        return conn.execute(select(tender.c.remaining_kw).where(tender.c.tender_id == tender_id)).scalar_one()


def count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def hourly_rates(service, party, start="2030-01-01T09:00:00Z", duration="PT4H") -> list[Decimal]:
    """The party's energy position at NODE-1, kW per hour (sells positive)."""
    reply = service.call("/EiTransaction", msg.request_position(f"pos-{party}-{start}", party, start, duration, "PT1H"))
    assert reply.code == "200", reply.description
    position = reply.payload.find(q(TEMIX, "position"))
    return [] if position is None else [Decimal(s.findtext(q(TEMIX, "rate"))) for s in position.findall(q(TEMIX, "step"))]


def listed_ids(reply, tag=q(EI, "tenderID")) -> list[str]:
    return [element.text for element in reply.payload.iter(tag)]
