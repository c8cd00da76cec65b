"""The README's worked example of the exchange ("Exchange"), run."""

from decimal import Decimal

from service.soap.ns import TEMIX, q
from service.store import positions
from tests.support import messages as msg
from tests.support.exchange import fills, open_exchange, order, remaining

A, B, C = "party-A", "party-B", "party-C"
D = Decimal


def test_the_exchange_worked_example(service, engine):
    exchange = open_exchange(engine)
    assert exchange == "http://market.example.com/temix/ctx1#exchange"
    order(service, A, "a1", "sell", 5, "0.10")
    order(service, C, "c1", "sell", 5, "0.09")
    order(service, A, "a2", "sell", 5, "0.09")
    assert order(service, B, "b1", "buy", 12, "0.10").description == "OK; filled at once: b1 12 of 12 kW filled in 3 fill(s)"
    assert order(service, B, "b2", "buy", 4, "0.10", integral_only="true").description == (
        "OK; filled at once: b2 0 of 4 kW filled in 0 fill(s)"
    )
    assert order(service, C, "c2", "buy", 3, "0.11").description == "OK; filled at once: c2 3 of 3 kW filled in 1 fill(s)"
    assert fills(engine) == [
        (B, "b1", "buy", D(2), D("0.1")), (A, "a1", "sell", D(2), D("0.1")),
        (B, "b1", "buy", D(5), D("0.09")), (C, "c1", "sell", D(5), D("0.09")),
        (B, "b1", "buy", D(5), D("0.09")), (A, "a2", "sell", D(5), D("0.09")),
        (C, "c2", "buy", D(3), D("0.1")), (A, "a1", "sell", D(3), D("0.1")),
    ]
    assert remaining(engine)[(B, "b2")] == 4

    def position(party):
        reply = service.call("/EiTransaction", msg.request_position(f"p-{party}", party, msg.START, "PT1H"), as_party=party)
        (step,) = reply.payload.find(q(TEMIX, "position")).findall(q(TEMIX, "step"))
        return D(step.findtext(q(TEMIX, "rate"))), D(step.findtext(q(TEMIX, "value")))

    assert position(A) == (D(10), D("0.95"))
    assert position(B) == (D(-12), D("-1.10"))
    assert position(C) == (D(2), D("0.15"))
    with engine.connect() as conn:
        assert positions.verify(conn) == []  # and the exchange is flat


def test_fills_publish_trade_prices_and_are_in_the_audit_trail(service, engine):
    from sqlalchemy import text

    exchange = open_exchange(engine)
    order(service, A, "a1", "sell", 5, "0.10")
    order(service, C, "c1", "sell", 5, "0.09")
    order(service, B, "b1", "buy", 8, "0.10")  # 5 at 0.09, then 3 at 0.10

    with engine.connect() as conn:
        (price,) = conn.execute(text(
            "SELECT last_price_per_kwh, energy_kwh, value, trades FROM trade_price WHERE market_context = :m"
        ), {"m": msg.CTX}).all()
        events = conn.execute(text(
            "SELECT kind, party_id, counterparty_id, tender_id, details->>'filled_kw' AS filled FROM audit_event ORDER BY id"
        )).all()
    assert (price.last_price_per_kwh, price.energy_kwh, price.value, price.trades) == (D("0.1"), D(8), D("0.75"), 2)
    created = [(e.party_id, e.tender_id, e.filled) for e in events if e.kind == "tender.created"]
    assert created == [(A, "a1", "0"), (C, "c1", "0"), (B, "b1", "8")]
    made = sorted(e.party_id for e in events if e.kind == "transaction.created")
    assert made == [A, B, B, C]
    assert {e.counterparty_id for e in events} == {exchange}
