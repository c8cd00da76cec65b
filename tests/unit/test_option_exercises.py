"""Exercises of an option together never exceed its rate, checked in one sweep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from service.domain.errors import InvalidValueError, QuantityUnavailableError
from service.domain.intervals import Interval
from service.domain.options import Exercise, check_exercises, first_excess

START = datetime(2030, 1, 1, 10, tzinfo=UTC)
OPTION = Interval(START, START + timedelta(hours=4))
HOUR = timedelta(hours=1)
NOW = START - timedelta(days=1)


def hour(n: int, rate: str) -> Exercise:
    return Exercise(Interval(START + n * HOUR, START + (n + 1) * HOUR), Decimal(rate))


def check(earlier, wanted):
    check_exercises(OPTION, Decimal(10), earlier, wanted, NOW, HOUR, HOUR)


def test_exercises_that_only_touch_do_not_add_up():
    check([hour(0, "10"), hour(2, "10")], [hour(1, "10"), hour(3, "10")])


def test_the_first_instant_over_the_rate_is_named_with_what_was_exercised_before():
    with pytest.raises(QuantityUnavailableError) as refused:
        check([hour(1, "6")], [hour(0, "4"), Exercise(Interval(START + HOUR, START + 3 * HOUR), Decimal("5"))])
    assert "reach 11 kW at 2030-01-01T11:00:00+00:00" in refused.value.description
    assert "(6 kW already exercised then)" in refused.value.description


def test_the_terms_of_each_exercise_are_checked_before_the_sum():
    with pytest.raises(InvalidValueError, match="outside"):
        check([hour(0, "10")], [hour(0, "10"), hour(5, "1")])


class Counted:
    """An exercise that counts how often its interval and rate are read."""

    reads = 0

    def __init__(self, exercise: Exercise):
        self._exercise = exercise

    @property
    def interval(self) -> Interval:
        Counted.reads += 1
        return self._exercise.interval

    @property
    def rate_kw(self) -> Decimal:
        Counted.reads += 1
        return self._exercise.rate_kw


@pytest.mark.parametrize("n", [10, 1000, 10_000])
def test_the_sum_check_reads_each_exercise_a_fixed_number_of_times(n):
    """The overlap check is a sweep, not a rescan of the earlier exercises per exercise: its
    work grows linearly (plus the sort) with their number."""
    earlier = [Counted(hour(i % 4, "0.0001")) for i in range(n)]
    wanted = [Counted(hour(i % 4, "0.0001")) for i in range(n)]
    Counted.reads = 0
    assert first_excess(earlier, wanted, Decimal(10)) is None
    assert Counted.reads == 2 * 2 * n
