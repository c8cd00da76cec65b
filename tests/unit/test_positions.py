from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from service.domain.errors import InvalidValueError
from service.domain.intervals import RESOLUTIONS, Interval, parse_duration
from service.domain.positions import (
    PositionChange,
    PositionStep,
    changes_for_deal,
    in_force,
    merge,
    profile,
    recompute,
)
from service.domain.units import price_per_kwh, rate_kw

NEW_YORK = ZoneInfo("America/New_York")
FIVE_MINUTES = RESOLUTIONS["PT5M"]
ONE_HOUR = RESOLUTIONS["PT1H"]
ZERO = Decimal(0)


@dataclass(frozen=True)
class Deal:
    interval: Interval
    signed_rate_kw: Decimal
    price_per_kwh: Decimal


def at(hour: int, minute: int = 0, day: int = 1) -> datetime:
    return datetime(2026, 1, day, hour, minute, tzinfo=UTC)


def between(start: datetime, end: datetime) -> Interval:
    return Interval(start, end)


def sell(interval: Interval, kw, price="0.08") -> Deal:
    return Deal(interval, Decimal(kw), Decimal(price))


def buy(interval: Interval, kw, price="0.08") -> Deal:
    return Deal(interval, -Decimal(kw), Decimal(price))


def position(deals, window: Interval, step: timedelta | None = None) -> list[PositionStep]:
    """As the store will do it: the opening from the changes at or before the window start."""
    changes = recompute(deals)
    return profile(in_force(changes, window.start), changes, window, step)


DAY = between(at(0), at(0, day=2))
HOUR_10 = between(at(10), at(11))


# --- change points ------------------------------------------------------------------


def test_a_sell_adds_its_rate_at_the_start_and_removes_it_at_the_end():
    opens, closes = changes_for_deal(HOUR_10, Decimal(2000), Decimal("0.08"))
    assert opens == PositionChange(at(10), Decimal(2000), Decimal(160))
    assert closes == PositionChange(at(11), Decimal(-2000), Decimal(-160))


def test_a_buy_counts_negative_and_pays_for_its_energy():
    opens, closes = changes_for_deal(HOUR_10, Decimal(-500), Decimal("0.09"))
    assert (opens.rate_kw, opens.value_rate) == (Decimal(-500), Decimal(-45))
    assert (closes.rate_kw, closes.value_rate) == (Decimal(500), Decimal(45))


def test_merging_sums_changes_at_the_same_time_and_sorts_them():
    changes = [
        PositionChange(at(12), Decimal(-5), Decimal(-1)),
        PositionChange(at(10), Decimal(2), Decimal(1)),
        PositionChange(at(10), Decimal(3), Decimal(0)),
    ]
    assert merge(changes) == [
        PositionChange(at(10), Decimal(5), Decimal(1)),
        PositionChange(at(12), Decimal(-5), Decimal(-1)),
    ]


def test_merging_drops_points_that_change_nothing():
    sold = changes_for_deal(HOUR_10, Decimal(7), Decimal(1))
    bought = changes_for_deal(HOUR_10, Decimal(-7), Decimal(1))
    assert merge([*sold, *bought]) == []


def test_merging_keeps_a_point_that_changes_only_the_value():
    # Selling and buying the same rate at different prices leaves no energy but a profit.
    sold = changes_for_deal(HOUR_10, Decimal(7), Decimal(2))
    bought = changes_for_deal(HOUR_10, Decimal(-7), Decimal(1))
    assert merge([*sold, *bought]) == [
        PositionChange(at(10), ZERO, Decimal(7)),
        PositionChange(at(11), ZERO, Decimal(-7)),
    ]


def test_merged_numbers_are_plain():
    (opens, _) = merge(changes_for_deal(HOUR_10, Decimal("2.50"), Decimal("0.0800")))
    assert str(opens.rate_kw) == "2.5" and str(opens.value_rate) == "0.2"


def test_a_change_time_is_kept_in_utc_and_must_name_an_instant():
    change = PositionChange(datetime(2026, 1, 1, 5, tzinfo=NEW_YORK), Decimal(1), ZERO)
    assert change.at == at(10) and change.at.tzinfo is UTC
    with pytest.raises(InvalidValueError):
        PositionChange(datetime(2026, 1, 1, 5), Decimal(1), ZERO)


def test_a_year_long_deal_is_two_change_points():
    year = Interval.of(datetime(2026, 1, 1, tzinfo=UTC), parse_duration("P1Y"))
    assert len(recompute([sell(year, 10)])) == 2


def test_recomputing_from_scratch_equals_merging_deal_by_deal():
    deals = [sell(DAY, 100), buy(HOUR_10, 30), sell(between(at(10, 15), at(10, 30)), 50), buy(DAY, 100)]
    running: list[PositionChange] = []
    for deal in reversed(deals):
        changes = changes_for_deal(deal.interval, deal.signed_rate_kw, deal.price_per_kwh)
        running = merge([*running, *changes])
    assert running == recompute(deals)


def test_the_position_in_force_sums_the_changes_at_or_before_the_instant():
    changes = recompute([sell(DAY, 100, "0.1"), buy(HOUR_10, 30, "0.1")])
    assert in_force(changes, at(9, 59)) == (Decimal(100), Decimal(10))
    assert in_force(changes, at(10)) == (Decimal(70), Decimal(7))
    assert in_force(changes, at(11)) == (Decimal(100), Decimal(10))
    assert in_force(changes, at(0, day=2)) == (ZERO, ZERO)


# --- the seed examples --------------------------------------------------------------


def test_selling_2_mw_for_an_hour_then_buying_back_half_a_megawatt_leaves_1500_kw_sold():
    sold = sell(HOUR_10, rate_kw(Decimal(2), "W", "M"), price_per_kwh(Decimal(80), "M"))
    bought_back = buy(HOUR_10, rate_kw(Decimal("0.5"), "J/s", "M"), price_per_kwh(Decimal(90), "M"))
    (step,) = position([sold, bought_back], HOUR_10)
    assert step.rate_kw == step.min_rate_kw == step.max_rate_kw == Decimal(1500)
    assert step.energy_kwh == Decimal(1500)
    assert step.value == Decimal(160) - Decimal(45)


def test_80_per_mwh_for_1_mw_over_2_hours_is_worth_160():
    two_hours = between(at(10), at(12))
    deal = sell(two_hours, rate_kw(Decimal(1), "W", "M"), price_per_kwh(Decimal(80), "M"))
    (step,) = position([deal], two_hours)
    assert step.energy_kwh == Decimal(2000)
    assert step.value == Decimal(160)


def test_the_value_of_a_position_is_revenue_less_cost():
    (step,) = position([buy(HOUR_10, 1000, "0.08")], HOUR_10)
    assert step.rate_kw == Decimal(-1000)
    assert step.value == Decimal(-80)


# --- nested intervals ---------------------------------------------------------------


def test_a_day_transaction_counts_in_each_of_its_hours():
    steps = position([sell(DAY, 100)], DAY, ONE_HOUR)
    assert len(steps) == 24
    assert all(step.rate_kw == step.energy_kwh == Decimal(100) for step in steps)
    assert all(step.value == Decimal(8) for step in steps)


def test_a_day_transaction_counts_in_each_of_its_five_minute_steps():
    steps = position([sell(DAY, 120)], DAY, FIVE_MINUTES)
    assert len(steps) == 288
    assert all(step.rate_kw == step.min_rate_kw == step.max_rate_kw == Decimal(120) for step in steps)
    assert all(step.energy_kwh == Decimal(10) for step in steps)


def test_an_hour_inside_a_day_with_different_trades_returns_the_step_profile():
    deals = [sell(DAY, 100), buy(HOUR_10, 30), sell(between(at(10, 15), at(10, 30)), 50)]
    steps = position(deals, HOUR_10)
    assert [(step.interval, step.rate_kw) for step in steps] == [
        (between(at(10), at(10, 15)), Decimal(70)),
        (between(at(10, 15), at(10, 30)), Decimal(120)),
        (between(at(10, 30), at(11)), Decimal(70)),
    ]
    assert [step.energy_kwh for step in steps] == [Decimal("17.5"), Decimal(30), Decimal(35)]


def test_an_hour_of_the_day_without_other_trades_is_one_step_of_the_day_rate():
    deals = [sell(DAY, 100), buy(HOUR_10, 30)]
    assert [(step.interval, step.rate_kw) for step in position(deals, between(at(8), at(9)))] == [
        (between(at(8), at(9)), Decimal(100))
    ]


def test_a_grid_step_averages_the_rate_over_time_and_bounds_it():
    deals = [sell(DAY, 100), buy(HOUR_10, 30), sell(between(at(10, 15), at(10, 30)), 50)]
    (step,) = position(deals, HOUR_10, ONE_HOUR)
    assert step.rate_kw == Decimal("82.5")  # (70 x 15 + 120 x 15 + 70 x 30) / 60
    assert step.energy_kwh == Decimal("82.5")
    assert (step.min_rate_kw, step.max_rate_kw) == (Decimal(70), Decimal(120))


def test_an_hourly_grid_shows_each_hour_of_a_day_with_hourly_trades():
    deals = [sell(DAY, 100), buy(between(at(10), at(11)), 30), sell(between(at(11), at(12)), 20)]
    steps = position(deals, between(at(9), at(13)), ONE_HOUR)
    assert [step.rate_kw for step in steps] == [Decimal(100), Decimal(70), Decimal(120), Decimal(100)]


# --- the window ---------------------------------------------------------------------


def test_a_raw_profile_covers_the_window_including_stretches_with_no_position():
    steps = position([sell(HOUR_10, 5)], between(at(8), at(14)))
    assert [(step.interval, step.rate_kw) for step in steps] == [
        (between(at(8), at(10)), ZERO),
        (HOUR_10, Decimal(5)),
        (between(at(11), at(14)), ZERO),
    ]


def test_a_window_without_changes_is_one_step_at_the_opening_rate():
    (step,) = profile((Decimal(40), Decimal(4)), [], HOUR_10)
    assert (step.rate_kw, step.energy_kwh, step.value) == (Decimal(40), Decimal(40), Decimal(4))


def test_changes_at_or_before_the_window_start_count_only_through_the_opening():
    changes = recompute(
        [sell(DAY, 100), buy(between(at(9), at(10, 30)), 30), sell(between(at(10), at(12)), 5)]
    )
    inner = [change for change in changes if HOUR_10.start < change.at < HOUR_10.end]
    opening = in_force(changes, HOUR_10.start)
    assert profile(opening, changes, HOUR_10) == profile(opening, inner, HOUR_10)
    # The opening is trusted: the change at 10:00 itself is not applied a second time.
    assert profile((ZERO, ZERO), changes, HOUR_10)[0].rate_kw == ZERO


def test_changes_after_the_window_are_ignored():
    changes = recompute([sell(between(at(12), at(13)), 100)])
    (step,) = profile((ZERO, ZERO), changes, HOUR_10)
    assert step.rate_kw == ZERO


def test_a_change_exactly_at_the_window_end_does_not_split_it():
    changes = recompute([sell(between(at(9), at(11)), 100)])
    assert len(profile(in_force(changes, at(10)), changes, HOUR_10)) == 1


def test_a_grid_that_does_not_divide_the_window_ends_with_a_shorter_step():
    steps = position([sell(HOUR_10, 60)], HOUR_10, timedelta(minutes=25))
    assert [step.interval.duration_text() for step in steps] == ["PT25M", "PT25M", "PT10M"]
    assert [step.energy_kwh for step in steps] == [Decimal(25), Decimal(25), Decimal(10)]


def test_a_year_long_deal_shows_in_a_five_minute_window_in_the_middle():
    year = Interval.of(datetime(2026, 1, 1, tzinfo=UTC), parse_duration("P1Y"))
    window = between(datetime(2026, 7, 1, 12, tzinfo=UTC), datetime(2026, 7, 1, 12, 5, tzinfo=UTC))
    (step,) = position([sell(year, 12)], window, FIVE_MINUTES)
    assert step.rate_kw == Decimal(12) and step.energy_kwh == Decimal(1)


def test_the_energy_of_a_five_minute_step_is_a_twelfth_of_the_hourly_rate_to_fifty_digits():
    (step,) = position([sell(HOUR_10, 1)], between(at(10), at(10, 5)))
    assert step.energy_kwh == Decimal("0.08" + "3" * 49)
    assert step.rate_kw == Decimal(1)


# --- daylight saving ----------------------------------------------------------------


def test_a_1_kw_day_on_the_us_spring_forward_day_delivers_23_kwh():
    day = Interval.of(datetime(2026, 3, 8, tzinfo=NEW_YORK), parse_duration("P1D"), NEW_YORK)
    (step,) = position([sell(day, 1)], day)
    assert step.energy_kwh == Decimal(23)
    assert len(position([sell(day, 1)], day, ONE_HOUR)) == 23


def test_a_1_kw_day_on_the_us_fall_back_day_delivers_25_kwh():
    day = Interval.of(datetime(2026, 11, 1, tzinfo=NEW_YORK), parse_duration("P1D"), NEW_YORK)
    (step,) = position([sell(day, 1)], day)
    assert step.energy_kwh == Decimal(25)
    assert len(position([sell(day, 1)], day, ONE_HOUR)) == 25


def test_delivered_moves_bought_transport_from_receipt_to_delivery():
    from datetime import UTC, datetime
    from decimal import Decimal

    from service.domain.intervals import Interval
    from service.domain.positions import changes_for_deal, delivered

    hour = Interval(datetime(2030, 1, 1, 10, tzinfo=UTC), datetime(2030, 1, 1, 11, tzinfo=UTC))
    energy_at_a = ((Decimal(0), Decimal(0)), list(changes_for_deal(hour, Decimal(-2), Decimal("0.05"))))
    transport_a_b = ((Decimal(0), Decimal(0)), list(changes_for_deal(hour, Decimal(-2), Decimal("0.01"))))
    result = delivered({"A": energy_at_a}, {("A", "B"): transport_a_b})
    # bought at A and moved away: no rate left at A, only what the energy cost
    assert [(c.rate_kw, c.value_rate) for c in result["A"][1]] == [(0, Decimal("-0.10")), (0, Decimal("0.10"))]
    assert [(c.rate_kw, c.value_rate) for c in result["B"][1]] == [(-2, Decimal("-0.02")), (2, Decimal("0.02"))]
