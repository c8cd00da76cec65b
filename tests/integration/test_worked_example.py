"""The README's worked example, run: a REP sells 24 hourly tenders, a customer buys some and
sells part back; the positions and costs the README quotes."""

from decimal import Decimal

from service.soap.ns import TEMIX, q
from service.store import positions
from tests.support import messages as msg

REP, CUSTOMER = "party-A", "party-B"


def hour(h: int) -> str:
    return f"2030-01-01T{h:02d}:00:00Z"


def test_rep_sells_24_hours_customer_buys_some_and_sells_one_back(service, engine):
    tenders = [(f"rep-h{h:02d}", msg.product(side="sell", quantity="10", price="0.10", start=hour(h))) for h in range(24)]
    assert service.call("/EiTender", msg.create_tender("rep-day", REP, CUSTOMER, *tenders)).code == "200"
    bought = [
        (f"buy-h{h:02d}", f"rep-h{h:02d}", msg.product(side="buy", quantity="4", price="0.10", start=hour(h), state="transaction"))
        for h in range(6)
    ]
    assert service.call("/EiTransaction", msg.create_transaction("cust-buy", CUSTOMER, REP, *bought)).code == "200"
    back = msg.product(side="sell", quantity="1", price="0.12", start=hour(2))
    assert service.call("/EiTender", msg.create_tender("cust-back", CUSTOMER, REP, ("back-h02", back))).code == "200"
    taken = msg.product(side="buy", quantity="1", price="0.12", start=hour(2), state="transaction")
    assert service.call("/EiTransaction", msg.create_transaction("rep-take", REP, CUSTOMER, ("take-h02", "back-h02", taken))).code == "200"

    def profile(party):
        reply = service.call("/EiTransaction", msg.request_position(f"p-{party}", party, hour(0), "PT24H", "PT1H"))
        steps = reply.payload.find(q(TEMIX, "position")).findall(q(TEMIX, "step"))
        return [Decimal(s.findtext(q(TEMIX, "rate"))) for s in steps], sum(Decimal(s.findtext(q(TEMIX, "value"))) for s in steps)

    rates, value = profile(CUSTOMER)
    assert rates[:7] == [-4, -4, -3, -4, -4, -4, 0] and set(rates[6:]) == {0}
    assert value == Decimal("-2.28")  # paid 24 kWh x 0.10, earned 1 kWh x 0.12
    rates, value = profile(REP)
    assert rates[:7] == [4, 4, 3, 4, 4, 4, 0]
    assert value == Decimal("2.28")
    remaining = service.call("/EiTender", msg.request_tender("left", CUSTOMER, tender_ids=["rep-h00", "rep-h10"]))
    assert [e.text for e in remaining.payload.iter("{http://docs.oasis-open.org/ns/emix/2011/06/cts.04}quantity")] == ["6", "10"]
    with engine.connect() as conn:
        assert positions.verify(conn) == []
