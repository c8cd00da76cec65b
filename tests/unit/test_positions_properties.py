"""Properties of positions over random deals on nested and overlapping 5-minute-aligned intervals.

Energies over 5-minute pieces are twelfths of an hour, which no decimal writes exactly; they
are correctly rounded at the 50th digit, so sums of them are compared to 1e-30 kWh. On a
quarter-hour grid every figure terminates and the comparisons are exact.
"""

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, localcontext

from hypothesis import given, settings
from hypothesis import strategies as st

from service.domain.intervals import Interval
from service.domain.positions import (
    changes_for_deal,
    in_force,
    merge,
    profile,
    profile_of_offsets,
    recompute,
)
from service.domain.units import DECIMAL_CONTEXT, energy_kwh, extended_price

SETTINGS = settings(max_examples=200, deadline=None)

ORIGIN = datetime(2026, 3, 2, tzinfo=UTC)
FIVE_MINUTES = timedelta(minutes=5)
QUARTER_HOUR = timedelta(minutes=15)
# Every deal lies inside this window: starts within 3 days of ORIGIN, lengths up to a day.
EVERYTHING = Interval(ORIGIN - timedelta(hours=1), ORIGIN + timedelta(days=5))
ROUNDING = Decimal("1e-30")


@dataclass(frozen=True)
class Deal:
    interval: Interval
    signed_rate_kw: Decimal
    price_per_kwh: Decimal


def aligned_interval(unit: timedelta):
    """Nested TeMIX levels (a step, an hour, a day, on their own grids) and free overlapping spans."""
    steps_per_hour = timedelta(hours=1) // unit
    steps_per_day = 24 * steps_per_hour
    nested = st.sampled_from([1, steps_per_hour, steps_per_day]).flatmap(
        lambda length: st.integers(0, 3 * steps_per_day // length - 1).map(
            lambda index: (index * length, length)
        )
    )
    free = st.tuples(st.integers(0, 3 * steps_per_day - 1), st.integers(1, steps_per_day))
    return st.one_of(nested, free).map(
        lambda span: Interval(ORIGIN + span[0] * unit, ORIGIN + (span[0] + span[1]) * unit)
    )


def deals(unit: timedelta = FIVE_MINUTES):
    deal = st.builds(
        Deal,
        interval=aligned_interval(unit),
        signed_rate_kw=st.integers(-50_000, 50_000).map(lambda n: Decimal(n).scaleb(-1)),
        price_per_kwh=st.integers(-1_000, 100_000).map(lambda n: Decimal(n).scaleb(-4)),
    )
    return st.lists(deal, max_size=25)


def windows(unit: timedelta = FIVE_MINUTES):
    return aligned_interval(unit)


def total(values) -> Decimal:
    """A sum in the service's 50-digit context (the default 28 digits would round it)."""
    with localcontext(DECIMAL_CONTEXT):
        return sum(values, Decimal(0))


def assert_close(a: Decimal, b: Decimal) -> None:
    with localcontext(DECIMAL_CONTEXT):
        assert abs(a - b) <= ROUNDING, (a, b)


def position(changes, window, step=None):
    return profile(in_force(changes, window.start), changes, window, step)


def rate_at(deals, instant) -> Decimal:
    return total(deal.signed_rate_kw for deal in deals if deal.interval.contains(instant))


@SETTINGS
@given(deals=deals(), data=st.data())
def test_merging_deals_one_at_a_time_in_any_order_equals_recomputing_from_scratch(deals, data):
    running = []
    for deal in data.draw(st.permutations(deals)):
        changes = changes_for_deal(deal.interval, deal.signed_rate_kw, deal.price_per_kwh)
        running = merge([*running, *changes])
    assert running == recompute(deals)


@SETTINGS
@given(deals=deals())
def test_merged_change_points_are_in_time_order_and_each_changes_something(deals):
    changes = recompute(deals)
    assert [change.at for change in changes] == sorted({change.at for change in changes})
    assert all(change.rate_kw or change.value_rate for change in changes)
    assert total(change.rate_kw for change in changes) == 0


@SETTINGS
@given(deals=deals(), window=windows())
def test_the_raw_profile_has_at_each_step_the_sum_of_the_deals_covering_it(deals, window):
    steps = position(recompute(deals), window)
    assert steps[0].interval.start == window.start and steps[-1].interval.end == window.end
    assert all(a.interval.end == b.interval.start for a, b in itertools.pairwise(steps))
    for step in steps:
        assert step.rate_kw == step.min_rate_kw == step.max_rate_kw == rate_at(deals, step.interval.start)


@SETTINGS
@given(deals=deals())
def test_the_energy_and_value_over_a_window_holding_all_deals_are_those_of_the_deals(deals):
    steps = position(recompute(deals), EVERYTHING)
    energies = [energy_kwh(deal.signed_rate_kw, deal.interval) for deal in deals]
    values = [extended_price(deal.price_per_kwh, energy) for deal, energy in zip(deals, energies)]
    assert_close(total(step.energy_kwh for step in steps), total(energies))
    assert_close(total(step.value for step in steps), total(values))


@SETTINGS
@given(deals=deals(QUARTER_HOUR))
def test_on_quarter_hours_the_energy_of_a_window_holding_all_deals_is_exact(deals):
    steps = position(recompute(deals), EVERYTHING)
    energies = [energy_kwh(deal.signed_rate_kw, deal.interval) for deal in deals]
    assert total(step.energy_kwh for step in steps) == total(energies)


@SETTINGS
@given(
    deals=deals(),
    window=windows(),
    step=st.sampled_from([timedelta(minutes=minutes) for minutes in (5, 10, 15, 25, 60, 24 * 60)]),
)
def test_the_energies_of_a_grid_sum_to_the_energy_of_the_whole_window(deals, window, step):
    changes = recompute(deals)
    whole = position(changes, window, window.end - window.start)
    (single,) = whole
    grid = position(changes, window, step)
    assert [cell.interval for cell in grid] == window.split(step)
    assert_close(total(cell.energy_kwh for cell in grid), single.energy_kwh)
    assert_close(total(cell.value for cell in grid), single.value)
    assert_close(total(piece.energy_kwh for piece in position(changes, window)), single.energy_kwh)
    for cell in grid:
        assert cell.min_rate_kw <= cell.rate_kw <= cell.max_rate_kw


@SETTINGS
@given(deals=deals(QUARTER_HOUR), window=windows(QUARTER_HOUR))
def test_on_a_quarter_hour_grid_the_energies_sum_exactly(deals, window):
    changes = recompute(deals)
    (single,) = position(changes, window, window.end - window.start)
    grid = position(changes, window, QUARTER_HOUR)
    assert total(cell.energy_kwh for cell in grid) == single.energy_kwh
    assert total(cell.value for cell in grid) == single.value


def window_view(changes, window):
    """What a position window needs: the position in force at its start, the changes inside."""
    return in_force(changes, window.start), [c for c in changes if window.start < c.at < window.end]


@SETTINGS
@given(deals=deals(), window=windows())
def test_passing_all_change_points_or_only_those_inside_the_window_gives_the_same_profile(deals, window):
    changes = recompute(deals)
    opening, inner = window_view(changes, window)
    assert profile(opening, changes, window) == profile(opening, inner, window)
    on_grid = profile(opening, changes, window, FIVE_MINUTES)
    assert on_grid == profile(opening, inner, window, FIVE_MINUTES)


@SETTINGS
@given(deals=deals(), window=windows())
def test_the_changes_of_a_position_sum_to_zero_so_what_is_in_force_is_minus_the_changes_after(deals, window):
    # read_window sums forwards: the party's deals from the window on, not its whole history
    changes = recompute(deals)
    after = [change for change in changes if change.at > window.start]
    assert (total(c.rate_kw for c in changes), total(c.value_rate for c in changes)) == (0, 0)
    assert in_force(changes, window.start) == (-total(c.rate_kw for c in after), -total(c.value_rate for c in after))


@SETTINGS
@given(deals=deals(), window=windows())
def test_a_profile_of_columns_at_offsets_from_the_window_start_is_the_profile_of_the_changes(deals, window):
    # the store reads a window's change points as columns (microseconds, rates, value flows)
    changes = recompute(deals)
    opening, inner = window_view(changes, window)
    offsets = [(change.at - window.start) // timedelta(microseconds=1) for change in inner]
    rates, value_rates = [c.rate_kw for c in inner], [c.value_rate for c in inner]
    for step in (None, FIVE_MINUTES, QUARTER_HOUR):
        assert profile_of_offsets(opening, offsets, rates, value_rates, window, step) == profile(
            opening, changes, window, step
        )
