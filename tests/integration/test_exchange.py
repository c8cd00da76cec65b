"""The exchange through the pipeline: orders addressed to a market context's exchange match
continuously, and every fill is a transaction of each side with the exchange."""

from decimal import Decimal

import pytest

from service.soap.ns import EI, EMIX, q
from service.store import positions
from tests.support import messages as msg
from tests.support.exchange import EXCHANGE, cancel, fills, net_positions, open_exchange, order, remaining

A, B, C = "party-A", "party-B", "party-C"
D = Decimal


@pytest.fixture
def exchange(engine, service):
    return open_exchange(engine)


def test_a_crossing_buy_fills_at_the_resting_sells_price_and_the_rest_rests(service, engine, exchange):
    assert order(service, A, "a-sell", "sell", 10, "0.08").description == "OK; filled at once: a-sell 0 of 10 kW filled in 0 fill(s)"
    reply = order(service, B, "b-buy", "buy", 6, "0.09")
    assert reply.code == "200"
    assert reply.description == "OK; filled at once: b-buy 6 of 6 kW filled in 1 fill(s)"
    assert fills(engine) == [(B, "b-buy", "buy", D(6), D("0.08")), (A, "a-sell", "sell", D(6), D("0.08"))]
    assert remaining(engine) == {(A, "a-sell"): D(4), (B, "b-buy"): D(0)}
    shown = service.call("/EiTender", msg.request_tender("see", A, tender_ids=["a-sell"]))
    assert [e.text for e in shown.payload.iter(q(EMIX, "quantity"))] == ["4"]
    listed = service.call("/EiTransaction", msg.request_transaction("list", B), as_party=B)
    items = listed.payload.findall(q(EI, "eiTransaction"))
    assert [i.findtext(q(EI, "tenderID")) for i in items] == ["b-buy"]
    product = items[0]
    assert product.findtext(f".//{q(EMIX, 'side')}") == "buy"
    assert product.findtext(f".//{q(EMIX, 'quantity')}") == "6"
    assert product.findtext(f".//{q(EMIX, 'price')}/{q(EMIX, 'value')}") == "0.08"
    assert product.findtext(f".//{q(EMIX, 'transactiveState')}") == "transaction"
    # the exchange's two sides cancel in the same request: it keeps no change point at all
    assert net_positions(engine) == {B: (D(-6), D("-0.48")), A: (D(6), D("0.48"))}
    with engine.connect() as conn:
        assert positions.verify(conn) == []


def test_best_price_first_then_earliest_and_partial_fills(service, engine, exchange):
    order(service, A, "a1", "sell", 5, "0.10")
    order(service, C, "c1", "sell", 5, "0.09")
    order(service, A, "a2", "sell", 5, "0.09")
    reply = order(service, B, "b1", "buy", 12, "0.10")
    assert reply.description == "OK; filled at once: b1 12 of 12 kW filled in 3 fill(s)"
    resting = [f for f in fills(engine) if f[0] != B]  # by arrival: a1, c1, a2
    assert resting == [(A, "a1", "sell", D(2), D("0.10")), (C, "c1", "sell", D(5), D("0.09")), (A, "a2", "sell", D(5), D("0.09"))]
    assert remaining(engine)[(A, "a1")] == D(3)


def test_a_buy_below_the_best_sell_rests_and_a_later_sell_crossing_it_trades_at_the_buys_price(service, engine, exchange):
    order(service, A, "a1", "sell", 5, "0.10")
    assert order(service, B, "b1", "buy", 5, "0.09").description.endswith("b1 0 of 5 kW filled in 0 fill(s)")
    order(service, C, "c1", "sell", 2, "0.05")
    assert fills(engine) == [(C, "c1", "sell", D(2), D("0.09")), (B, "b1", "buy", D(2), D("0.09"))]


def test_a_partys_order_never_fills_against_its_own(service, engine, exchange):
    order(service, A, "a-sell", "sell", 5, "0.08")
    reply = order(service, A, "a-buy", "buy", 5, "0.09")
    assert reply.description.endswith("a-buy 0 of 5 kW filled in 0 fill(s)")
    order(service, B, "b-sell", "sell", 5, "0.09")  # crosses A's buy, not A's sell
    assert [f[:2] for f in fills(engine)] == [(B, "b-sell"), (A, "a-buy")]


def test_an_integral_only_incoming_order_fills_whole_or_rests_whole(service, engine, exchange):
    order(service, A, "a1", "sell", 4, "0.08")
    assert order(service, B, "b1", "buy", 6, "0.09", integral_only="true").description.endswith("b1 0 of 6 kW filled in 0 fill(s)")
    assert fills(engine) == []
    order(service, C, "c1", "sell", 2, "0.08")  # crosses b1 but cannot take it whole: rests
    assert fills(engine) == []
    order(service, C, "c2", "sell", 7, "0.085")  # takes b1 whole, at b1's price
    assert fills(engine) == [(C, "c2", "sell", D(6), D("0.09")), (B, "b1", "buy", D(6), D("0.09"))]
    assert remaining(engine)[(C, "c2")] == D(1) and remaining(engine)[(A, "a1")] == D(4)


def test_a_resting_integral_only_order_is_taken_whole_or_skipped(service, engine, exchange):
    order(service, A, "a-big", "sell", 8, "0.07", integral_only="true")
    order(service, C, "c-small", "sell", 3, "0.08")
    reply = order(service, B, "b1", "buy", 5, "0.09")  # cannot take a-big whole: skips it
    assert reply.description.endswith("b1 3 of 5 kW filled in 1 fill(s)")
    reply = order(service, B, "b2", "buy", 8, "0.07")
    assert reply.description.endswith("b2 8 of 8 kW filled in 1 fill(s)")
    assert remaining(engine)[(A, "a-big")] == 0


def test_cancelled_expired_and_quoted_orders_never_match(service, engine, exchange, clock):
    order(service, A, "a-cancel", "sell", 5, "0.08")
    assert cancel(service, A, "a-cancel").code == "200"
    order(service, A, "a-expire", "sell", 5, "0.08", expires="2029-12-31T13:00:00Z")
    assert order(service, A, "a-quote", "sell", 5, "0.08", state="indicationOfInterest").description.endswith(
        "a-quote is a quote (never matched)"
    )
    clock.advance(hours=2)
    assert order(service, B, "b1", "buy", 5, "0.09").description.endswith("b1 0 of 5 kW filled in 0 fill(s)")
    assert fills(engine) == []


def test_orders_the_exchange_does_not_take_are_refused_and_nothing_is_written(service, engine, exchange, clock):
    other = msg.product(side="sell", market_context="http://other.example/ctx")
    refused = service.call("/EiTender", msg.create_tender("r0", A, "http://other.example/ctx#exchange", ("a1", other)))
    assert refused.code == "404" and "runs no exchange" in refused.description
    refused = service.call("/EiTender", msg.create_tender("r1", A, EXCHANGE, ("a2", other)))
    assert refused.code == "400" and "trades only in its own" in refused.description
    clock.advance(days=2)
    assert order(service, A, "a3", "sell", 5, "0.08").code == "400"  # its delivery has started
    assert remaining(engine) == {}


def test_a_retry_gets_the_first_answer_and_fills_nothing_twice(service, engine, exchange):
    order(service, A, "a1", "sell", 10, "0.08")
    payload = msg.create_tender("retry-1", B, EXCHANGE, ("b1", msg.product(side="buy", quantity="4", price="0.08")))
    first = service.call("/EiTender", payload, as_party=B)
    again = service.call("/EiTender", payload, as_party=B)
    assert first.description == again.description and len(fills(engine)) == 2
    assert remaining(engine)[(A, "a1")] == 6


@pytest.mark.parametrize("resting_side", ["sell", "buy"])
def test_a_large_order_reads_the_book_page_after_page_in_priority_order(service, engine, exchange, resting_side):
    prices = [D("0.10") + D(n % 7) / 100 for n in range(60)]  # more than a page (50), prices repeating
    payload = msg.create_tender("many", A, EXCHANGE, *(
        (f"a{n}", msg.product(side=resting_side, quantity="1", price=str(price))) for n, price in enumerate(prices)
    ))
    assert service.call("/EiTender", payload).code == "200"
    incoming = "buy" if resting_side == "sell" else "sell"
    limit = "1" if incoming == "buy" else "0.01"
    reply = order(service, B, "b1", incoming, 55, limit)
    assert reply.description.endswith("b1 55 of 55 kW filled in 55 fill(s)")
    best_first = sorted(range(60), key=lambda n: (prices[n] if resting_side == "sell" else -prices[n], n))
    left = remaining(engine)
    assert [n for n in range(60) if left[(A, f"a{n}")] == 1] == sorted(best_first[55:])
