"""The pure matching rules (service/domain/matching.py)."""

from decimal import Decimal

from service.domain.matching import Entered, Order, describe_entered, exchange_id, exchange_market, filled_kw, match
from service.domain.tenders import Side

D = Decimal


def sell(ref, price, kw, party="s", io=False):
    return Order(ref, party, Side.SELL, D(price), D(kw), io)


def buy(ref, price, kw, party="b", io=False):
    return Order(ref, party, Side.BUY, D(price), D(kw), io)


def book(*orders):
    return sorted(orders, key=lambda o: o.priority)


def test_a_buy_takes_the_cheapest_sells_first_earliest_first_at_one_price_at_their_prices():
    resting = book(sell(1, "0.10", 5), sell(2, "0.09", 5), sell(3, "0.09", 5))
    fills = match(buy(9, "0.10", 12), resting)
    assert [(f.resting.ref, f.quantity_kw, f.price_per_kwh) for f in fills] == [(2, 5, D("0.09")), (3, 5, D("0.09")), (1, 2, D("0.10"))]


def test_a_sell_takes_the_highest_bids_first_and_stops_at_one_that_does_not_cross():
    resting = book(buy(1, "0.08", 5), buy(2, "0.11", 1), buy(3, "0.07", 5))
    fills = match(sell(9, "0.08", 10), resting)
    assert [(f.resting.ref, f.quantity_kw) for f in fills] == [(2, 1), (1, 5)]
    assert filled_kw(fills) == 6


def test_own_resting_orders_are_skipped():
    fills = match(buy(9, "0.10", 5, party="p"), book(sell(1, "0.08", 5, party="p"), sell(2, "0.09", 5)))
    assert [f.resting.ref for f in fills] == [2]


def test_a_resting_integral_only_order_is_taken_whole_or_skipped():
    resting = book(sell(1, "0.08", 8, io=True), sell(2, "0.09", 3))
    assert [(f.resting.ref, f.quantity_kw) for f in match(buy(9, "0.10", 5), resting)] == [(2, 3)]
    assert [(f.resting.ref, f.quantity_kw) for f in match(buy(9, "0.10", 9), resting)] == [(1, 8), (2, 1)]


def test_an_incoming_integral_only_order_fills_entirely_or_not_at_all():
    resting = book(sell(1, "0.08", 2), sell(2, "0.09", 3))
    assert match(buy(9, "0.10", 6, io=True), resting) == []
    assert filled_kw(match(buy(9, "0.10", 5, io=True), resting)) == 5


def test_the_exchange_id_is_the_market_contexts_uri_and_a_suffix():
    assert exchange_id("http://m/ctx") == "http://m/ctx#exchange"
    assert exchange_market("http://m/ctx#exchange") == "http://m/ctx"
    assert exchange_market("party-A") is None and exchange_market("#exchange") is None


def test_the_description_says_what_filled_per_tender():
    entered = [Entered("t1", D(10), D("6.0"), 2), Entered("q1", D(1), D(0), 0, quote=True)]
    assert describe_entered(entered) == "OK; filled at once: t1 6 of 10 kW filled in 2 fill(s); q1 is a quote (never matched)"
