"""Settlement rules (service.domain.settlement): calendar intervals, the real-time price rule,
imbalances, and the properties of settling (positions equal delivery, values conserve,
idempotent, order-independent) on random trades and readings."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.domain.errors import InvalidValueError
from service.domain.intervals import Interval
from service.domain.settlement import (
    NO_PRICE,
    NO_READING,
    Imbalance,
    PricePoint,
    check_settlement_step,
    real_time_price,
    settle,
    settlement_intervals,
)
from service.domain.tenders import Side
from service.domain.units import energy_kwh

BERLIN = ZoneInfo("Europe/Berlin")
QUARTER = timedelta(minutes=15)
T0 = datetime(2026, 6, 1, tzinfo=UTC)


def _hour(n: int) -> Interval:
    return Interval(T0 + timedelta(hours=n), T0 + timedelta(hours=n + 1))


def _local_day(y, m, d, tz=BERLIN) -> Interval:
    start = datetime(y, m, d, tzinfo=tz).astimezone(UTC)
    end = (datetime(y, m, d, tzinfo=tz) + timedelta(days=1)).replace(tzinfo=None)
    return Interval(start, end.replace(tzinfo=tz).astimezone(UTC))


def test_a_spring_forward_day_has_92_quarter_hours_and_a_fall_back_day_100():
    assert len(settlement_intervals(_local_day(2026, 3, 29), QUARTER, BERLIN)) == 92
    assert len(settlement_intervals(_local_day(2026, 10, 25), QUARTER, BERLIN)) == 100
    assert len(settlement_intervals(_local_day(2026, 6, 1), QUARTER, BERLIN)) == 96


def test_settlement_intervals_are_aligned_on_local_midnight_and_cover_only_whole_ones():
    day = _local_day(2026, 3, 29)
    intervals = settlement_intervals(day, timedelta(hours=1), BERLIN)
    assert intervals[0].start == datetime(2026, 3, 28, 23, tzinfo=UTC)  # local midnight, CET
    assert intervals[-1].end == datetime(2026, 3, 29, 22, tzinfo=UTC)  # next local midnight, CEST
    assert all(a.end == b.start for a, b in zip(intervals, intervals[1:]))
    ragged = Interval(day.start + timedelta(minutes=10), day.start + timedelta(hours=2))
    assert [i.start for i in settlement_intervals(ragged, timedelta(hours=1), BERLIN)] == [day.start + timedelta(hours=1)]


@pytest.mark.parametrize("step", ["PT1M", "PT5M", "PT15M", "PT30M", "PT1H", "PT2H"])
def test_settlement_steps_that_divide_a_day_into_exact_rates_are_accepted(step):
    minutes = {"PT1M": 1, "PT5M": 5, "PT15M": 15, "PT30M": 30, "PT1H": 60, "PT2H": 120}[step]
    check_settlement_step(timedelta(minutes=minutes))


@pytest.mark.parametrize("step", [timedelta(minutes=7), timedelta(hours=3), timedelta(hours=24), timedelta(seconds=1.5), timedelta(0)])
def test_settlement_steps_that_do_not_divide_a_day_or_make_inexact_rates_are_refused(step):
    with pytest.raises(InvalidValueError):
        check_settlement_step(step)


def test_the_real_time_price_is_the_latest_published_before_the_interval_closes_plus_grace():
    interval = _hour(0)
    early = PricePoint(interval.start - timedelta(hours=1), Decimal("0.10"), "q1")
    at_end = PricePoint(interval.end, Decimal("0.12"), "q2")
    in_grace = PricePoint(interval.end + timedelta(minutes=4), Decimal("0.15"), "q3")
    late = PricePoint(interval.end + timedelta(minutes=6), Decimal("0.99"), "q4")
    quoted = [late, in_grace, early, at_end]
    assert real_time_price(quoted, interval, timedelta(0)) == at_end
    assert real_time_price(quoted, interval, timedelta(minutes=5)) == in_grace
    assert real_time_price([late], interval, timedelta(minutes=5)) is None


def test_a_shortfall_is_bought_and_a_surplus_sold_at_an_exact_rate():
    price = PricePoint(T0, Decimal("0.2"), "q")
    quarter = Interval(T0, T0 + QUARTER)
    short = Imbalance("a", "N", quarter, Decimal("-3"), Decimal("-2"), price)  # used 1 kWh more than bought
    assert (short.energy_kwh, short.side, short.rate_kw, short.value) == (Decimal(-1), Side.BUY, Decimal(4), Decimal("-0.2"))
    surplus = Imbalance("a", "N", quarter, Decimal("1.5"), Decimal("1"), price)
    assert (surplus.side, surplus.rate_kw, surplus.value) == (Side.SELL, Decimal(2), Decimal("0.1"))


def test_settle_reports_positions_without_readings_and_intervals_without_price():
    k1, k2, k3 = ("a", "N", _hour(0)), ("b", "N", _hour(0)), ("c", "N", _hour(1))
    outcome = settle(
        delivered={k1: Decimal(-5), k3: Decimal(1), ("rep", "N", _hour(0)): Decimal(9)},
        positions={k1: Decimal(-4), k2: Decimal(-1), k3: Decimal(1)},
        price_of=lambda node, interval: PricePoint(T0, Decimal("0.3"), "q") if interval == _hour(0) else None,
        balancing_party_id="rep",
    )
    assert [(i.party_id, i.energy_kwh) for i in outcome.imbalances] == [("a", Decimal(-1))]
    assert [(u.party_id, u.reason) for u in outcome.unsettled] == [("b", NO_READING)]
    assert outcome.balanced == 1
    no_price = settle({k3: Decimal(2)}, {k3: Decimal(1)}, lambda node, interval: None, "rep")
    assert [(u.party_id, u.reason) for u in no_price.unsettled] == [("c", NO_PRICE)]


# ------------------------------------------------------------------ properties, on a ledger


class Ledger:
    """Positions as settlement sees them: per key the energy (kWh) and value of every deal,
    both sides of each. Deals are what the store books: the imbalance transaction's rate x
    duration, both parties' positions in one step."""

    def __init__(self):
        self.energy = defaultdict(Decimal)
        self.value = defaultdict(Decimal)

    def deal(self, seller, buyer, node, interval, rate_kw, price):
        energy = energy_kwh(rate_kw, interval)
        for party, sign in ((seller, 1), (buyer, -1)):
            self.energy[(party, node, interval)] += sign * energy
            self.value[(party, node, interval)] += sign * energy * price

    def settle(self, delivered, keys=None):
        positions = {k: v for k, v in self.energy.items() if keys is None or k in keys}
        chosen = {k: v for k, v in delivered.items() if keys is None or k in keys}
        outcome = settle(chosen, positions, lambda node, interval: PricePoint(T0, PRICES[interval], "q"), "rep")
        for imbalance in outcome.imbalances:
            seller, buyer = (imbalance.party_id, "rep") if imbalance.side is Side.SELL else ("rep", imbalance.party_id)
            self.deal(seller, buyer, imbalance.interface, imbalance.interval, imbalance.rate_kw, imbalance.price.price_per_kwh)
        return outcome


PRICES = {_hour(n): Decimal(n + 7) / 100 for n in range(4)}
PARTIES = ("p1", "p2", "p3", "p4")
amounts = st.decimals(min_value=-50, max_value=50, places=3)
trades = st.lists(
    st.tuples(st.sampled_from(PARTIES), st.sampled_from(PARTIES + ("rep",)), st.integers(0, 3),
              st.decimals(min_value="0.001", max_value=20, places=3), st.decimals(min_value=0, max_value=1, places=2)),
    max_size=12,
)
readings = st.dictionaries(st.tuples(st.sampled_from(PARTIES), st.integers(0, 3)), amounts, max_size=16)


def _book(trade_list) -> Ledger:
    ledger = Ledger()
    for seller, buyer, hour, rate, price in trade_list:
        if seller != buyer:
            ledger.deal(seller, buyer, "N", _hour(hour), rate, price)
    return ledger


def _delivered(reading_map):
    return {(party, "N", _hour(hour)): kwh for (party, hour), kwh in reading_map.items()}


@settings(max_examples=150, deadline=None)
@given(trades, readings)
def test_after_settlement_every_read_position_equals_its_delivery_and_values_conserve(trade_list, reading_map):
    ledger, delivered = _book(trade_list), _delivered(reading_map)
    ledger.settle(delivered)
    for key, kwh in delivered.items():
        assert ledger.energy[key] == kwh
    for interval in PRICES:  # every deal has two sides: energy and money sum to zero
        assert sum(v for (_, _, i), v in ledger.energy.items() if i == interval) == 0
        assert sum(v for (_, _, i), v in ledger.value.items() if i == interval) == 0


@settings(max_examples=100, deadline=None)
@given(trades, readings, amounts, st.randoms(use_true_random=False))
def test_settling_is_idempotent_order_independent_and_corrections_settle_only_the_difference(
    trade_list, reading_map, corrected, rnd: random.Random
):
    delivered = _delivered(reading_map)
    once = _book(trade_list)
    once.settle(delivered)
    assert once.settle(delivered).imbalances == []  # again: nothing
    piecewise = _book(trade_list)
    keys = list(delivered)
    rnd.shuffle(keys)
    for k in keys:  # one key at a time, in any order
        piecewise.settle(delivered, keys={k})
    assert {k: v for k, v in piecewise.energy.items() if v} == {k: v for k, v in once.energy.items() if v}
    assert {k: v for k, v in piecewise.value.items() if v} == {k: v for k, v in once.value.items() if v}
    if keys:
        key = keys[0]
        before = once.energy[key]
        outcome = once.settle({**delivered, key: corrected})
        assert [i.energy_kwh for i in outcome.imbalances] == ([corrected - before] if corrected != before else [])
        assert once.energy[key] == corrected


def test_a_position_s_energy_per_interval_integrates_its_changes_inside_and_before():
    from service.domain.settlement import energy_by_interval

    hours = [_hour(0), _hour(1), _hour(3)]
    changes = [(T0 + timedelta(minutes=30), Decimal(2)), (T0 + timedelta(hours=2), Decimal(-1)),
               (T0 + timedelta(hours=3, minutes=45), Decimal("0.4"))]
    # 1 kW, then 3 kW from 00:30, 2 kW from 02:00, 2.4 kW from 03:45
    assert energy_by_interval(Decimal(1), changes, hours) == [Decimal(2), Decimal(3), Decimal("2.1")]
