"""Meter readings: one settlement interval of the market context's calendar, exact kWh."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from service.domain.deliveries import (
    MeterReading,
    check_reading,
    energy,
    repeated_keys,
    settlement_intervals,
    settlement_step,
)
from service.domain.errors import InvalidValueError
from service.domain.markets import MarketContext

BERLIN = ZoneInfo("Europe/Berlin")
Q = timedelta(minutes=15)


def local_day(day: int, month: int = 3) -> tuple[datetime, datetime]:
    start = datetime(2026, month, day, tzinfo=BERLIN).astimezone(UTC)
    end = datetime(2026, month, day + 1, tzinfo=BERLIN).astimezone(UTC)
    return start, end


@pytest.mark.parametrize("text, minutes", [("PT5M", 5), ("PT15M", 15), ("PT1H", 60), ("PT2H", 120), ("PT24H", 1440)])
def test_a_settlement_interval_that_divides_a_day_is_accepted(text, minutes):
    assert settlement_step(text) == timedelta(minutes=minutes)


@pytest.mark.parametrize("text", ["PT7M", "P1D", "PT0.5S", "PT25H", "PT1H10M", "nonsense"])
def test_a_settlement_interval_that_does_not_divide_a_day_is_refused(text):
    with pytest.raises(InvalidValueError):
        settlement_step(text)


def test_a_market_context_refuses_a_bad_settlement_interval():
    with pytest.raises(InvalidValueError):
        MarketContext("urn:m", settlement_interval="PT7M")
    assert MarketContext("urn:m").settlement_step == timedelta(hours=1)


@pytest.mark.parametrize("day, quarters", [(29, 92), (30, 96)])
def test_a_spring_forward_day_has_92_quarter_hours_and_an_ordinary_day_96(day, quarters):
    start, end = local_day(day)
    assert len(settlement_intervals(start, end, Q, BERLIN)) == quarters


def test_a_fall_back_day_has_100_quarter_hours():
    start, end = local_day(25, month=10)
    assert len(settlement_intervals(start, end, Q, BERLIN)) == 100


def test_the_last_interval_of_a_short_day_is_cut_at_local_midnight():
    start, end = local_day(29)
    intervals = settlement_intervals(start, end, timedelta(hours=2), BERLIN)
    assert len(intervals) == 12 and intervals[-1][1] - intervals[-1][0] == timedelta(hours=1)


def reading(start, end, kwh="1") -> MeterReading:
    return MeterReading("a", "urn:m", "node", start, end, False, Decimal(kwh))


def test_a_reading_of_exactly_one_aligned_interval_is_accepted_in_utc():
    start = datetime(2026, 7, 1, 10, 15, tzinfo=BERLIN)
    checked = check_reading(reading(start, start + Q), Q, BERLIN)
    assert checked.start.tzinfo == UTC and checked.start == start


@pytest.mark.parametrize("offset, length", [(timedelta(minutes=5), Q), (timedelta(0), 2 * Q), (timedelta(0), Q / 3)])
def test_a_reading_not_on_one_settlement_interval_is_refused(offset, length):
    start = datetime(2026, 7, 1, 10, tzinfo=UTC) + offset
    with pytest.raises(InvalidValueError, match="settlement interval"):
        check_reading(reading(start, start + length), Q, BERLIN)


def test_negative_energy_is_refused_and_decimals_stay_exact():
    assert energy(" 1.000001 ") == Decimal("1.000001")
    for text in ("-0.1", "NaN", "Infinity", "1,5", ""):
        with pytest.raises(InvalidValueError):
            energy(text)


def test_net_kwh_is_injection_positive_withdrawal_negative():
    start = datetime(2026, 7, 1, tzinfo=UTC)
    withdrawal = reading(start, start + Q, "2")
    injection = MeterReading("a", "urn:m", "node", start, start + Q, True, Decimal("2"))
    assert (withdrawal.net_kwh, injection.net_kwh) == (Decimal("-2"), Decimal("2"))
    assert withdrawal.key != injection.key
    assert repeated_keys([withdrawal, injection, withdrawal]) == [withdrawal.key]


@pytest.mark.parametrize("kwh", ["1E+131072", "1E+20", "1E-31"])
def test_energy_beyond_the_amount_bounds_is_refused_before_the_database_sees_it(kwh):
    start = datetime(2026, 7, 1, 10, tzinfo=UTC)  # a CSV import's reading, as a report's
    with pytest.raises(InvalidValueError, match="energy in kWh"):
        check_reading(reading(start, start + Q, kwh), Q, BERLIN)
