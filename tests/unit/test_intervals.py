from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from service.domain.errors import InvalidValueError
from service.domain.intervals import (
    RESOLUTIONS,
    Duration,
    Interval,
    parse_duration,
    parse_resolution,
    to_utc,
)

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def hours_between(start: datetime, end: datetime) -> Decimal:
    return Interval(start, end).hours


# --- reading durations ---------------------------------------------------------------


def test_every_part_of_a_full_duration_is_read():
    assert parse_duration("P1Y2M3W4DT5H6M7.5S") == Duration(
        years=1, months=2, weeks=3, days=4, hours=5, minutes=6, seconds=Decimal("7.5")
    )


@pytest.mark.parametrize(
    "text",
    ["PT5M", "PT15M", "PT1H", "PT24H", "P1D", "P1W", "P1M", "P1Y", "P1DT1H", "PT1H30M", "PT0.5S",
     "PT90M", "P2Y10M"],
)
def test_a_canonical_duration_reads_back_as_the_same_text(text):
    assert str(parse_duration(text)) == text
    assert parse_duration(text).format() == text


def test_formatting_drops_zero_parts_and_trailing_zeros_of_the_seconds():
    assert str(parse_duration("P0Y1DT0H")) == "P1D"
    assert str(parse_duration("PT1.500S")) == "PT1.5S"
    assert str(parse_duration("PT10.0S")) == "PT10S"


def test_surrounding_whitespace_is_ignored():
    assert parse_duration("  PT1H\n") == Duration(hours=1)


def test_parts_are_not_carried_into_larger_ones():
    assert parse_duration("PT90M") == Duration(minutes=90)
    assert parse_duration("PT90M").exact == parse_duration("PT1H30M").exact


def test_a_microsecond_is_the_finest_fraction_of_a_second():
    assert parse_duration("PT0.000001S").exact == timedelta(microseconds=1)
    assert parse_duration("PT1.0000000S").exact == timedelta(seconds=1)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("P", "no parts"),
        ("PT", "'T' must be followed"),
        ("P1DT", "'T' must be followed"),
        ("-P1D", "must not carry a sign"),
        ("+PT1H", "must not carry a sign"),
        ("PT0S", "zero"),
        ("P0D", "zero"),
        ("P0Y0M0W0DT0H0M0.000S", "zero"),
        ("P1.5D", "only the seconds may have a fraction"),
        ("PT1.5H", "only the seconds may have a fraction"),
        ("PT1.5M", "only the seconds may have a fraction"),
        ("P0.5Y", "only the seconds may have a fraction"),
        ("PT1,5S", "'.' as the decimal mark"),
        ("PT0.0000001S", "finer than a microsecond"),
        ("1D", "starts with 'P'"),
        ("pt1h", "starts with 'P'"),
        ("P1h", "PnYnMnWnDTnHnMnS"),
        ("PT1M1H", "PnYnMnWnDTnHnMnS"),
        ("P1D1Y", "PnYnMnWnDTnHnMnS"),
        ("P1H", "PnYnMnWnDTnHnMnS"),
        ("PT1D", "PnYnMnWnDTnHnMnS"),
        ("P T1H", "PnYnMnWnDTnHnMnS"),
        ("PT.5S", "PnYnMnWnDTnHnMnS"),
        ("PT1.S", "PnYnMnWnDTnHnMnS"),
        ("P1E3D", "PnYnMnWnDTnHnMnS"),
        ("P\u0661D", "PnYnMnWnDTnHnMnS"),  # an Arabic-Indic digit one is not an ISO digit
        ("P" + "1" * 120 + "D", "longer than"),
    ],
)
def test_an_invalid_duration_is_refused_with_a_message_naming_it_and_the_problem(text, problem):
    with pytest.raises(InvalidValueError) as refused:
        parse_duration(text)
    assert repr(text) in refused.value.description
    assert problem in refused.value.description


def test_a_duration_that_is_not_text_is_refused():
    with pytest.raises(InvalidValueError):
        parse_duration(3600)


@pytest.mark.parametrize(
    "fields",
    [{}, {"days": -1}, {"hours": 1.5}, {"minutes": True}, {"seconds": 1.5}, {"seconds": Decimal("-1")},
     {"seconds": Decimal("NaN")}, {"seconds": Decimal("1E-7")}],
)
def test_a_duration_built_directly_keeps_the_same_rules(fields):
    with pytest.raises(InvalidValueError):
        Duration(**fields)


def test_whole_seconds_may_be_given_as_an_integer():
    assert Duration(seconds=30).seconds == Decimal(30)


def test_a_duration_with_years_months_weeks_or_days_is_calendar_time():
    assert parse_duration("P1D").is_calendar
    assert parse_duration("P1W").is_calendar
    assert not parse_duration("PT24H").is_calendar


def test_the_exact_part_is_elapsed_hours_minutes_and_seconds():
    assert parse_duration("P1DT1H2M3.25S").exact == timedelta(hours=1, minutes=2, seconds=3.25)


# --- adding durations on the wall clock ---------------------------------------------


def test_a_day_on_the_us_spring_forward_day_is_23_hours():
    start = datetime(2026, 3, 8, tzinfo=NEW_YORK)
    end = parse_duration("P1D").end_from(start, NEW_YORK)
    assert end == datetime(2026, 3, 9, tzinfo=NEW_YORK)
    assert hours_between(start, end) == 23


def test_a_day_on_the_us_fall_back_day_is_25_hours():
    start = datetime(2026, 11, 1, tzinfo=NEW_YORK)
    end = parse_duration("P1D").end_from(start, NEW_YORK)
    assert end == datetime(2026, 11, 2, tzinfo=NEW_YORK)
    assert hours_between(start, end) == 25


def test_pt24h_on_the_spring_forward_day_is_24_elapsed_hours_and_ends_at_1_am():
    start = datetime(2026, 3, 8, tzinfo=NEW_YORK)
    end = parse_duration("PT24H").end_from(start, NEW_YORK)
    assert end == datetime(2026, 3, 9, 1, tzinfo=NEW_YORK)


def test_the_calendar_part_is_added_before_the_exact_part():
    start = datetime(2026, 3, 8, tzinfo=NEW_YORK)
    assert hours_between(start, parse_duration("P1DT1H").end_from(start, NEW_YORK)) == 24


def test_a_month_in_berlin_loses_an_hour_in_march_and_gains_one_in_october():
    march = datetime(2026, 3, 1, tzinfo=BERLIN)
    october = datetime(2026, 10, 1, tzinfo=BERLIN)
    month = parse_duration("P1M")
    assert month.end_from(march, BERLIN) == datetime(2026, 4, 1, tzinfo=BERLIN)
    assert hours_between(march, month.end_from(march, BERLIN)) == 31 * 24 - 1
    assert hours_between(october, month.end_from(october, BERLIN)) == 31 * 24 + 1


def test_a_month_from_january_31_ends_on_the_last_day_of_february():
    month = parse_duration("P1M")
    assert month.end_from(datetime(2026, 1, 31, tzinfo=BERLIN), BERLIN) == datetime(2026, 2, 28, tzinfo=BERLIN)
    assert month.end_from(datetime(2028, 1, 31, tzinfo=BERLIN), BERLIN) == datetime(2028, 2, 29, tzinfo=BERLIN)


def test_a_year_from_february_29_ends_on_february_28():
    start = datetime(2028, 2, 29, tzinfo=UTC)
    assert parse_duration("P1Y").end_from(start, UTC) == utc(2029, 2, 28)


def test_months_are_added_before_days():
    # Jan 31 + 1 month = Feb 28, + 1 day = Mar 1 (days first would give Mar 1 + 1 month = Apr 1).
    assert parse_duration("P1M1D").end_from(utc(2026, 1, 31), UTC) == utc(2026, 3, 1)


def test_months_carry_into_years():
    assert parse_duration("P14M").end_from(utc(2026, 11, 15), UTC) == utc(2028, 1, 15)


def test_a_week_is_seven_wall_clock_days():
    start = datetime(2026, 3, 5, 12, tzinfo=NEW_YORK)
    assert parse_duration("P1W").end_from(start, NEW_YORK) == datetime(2026, 3, 12, 12, tzinfo=NEW_YORK)
    assert hours_between(start, datetime(2026, 3, 12, 12, tzinfo=NEW_YORK)) == 7 * 24 - 1


def test_a_wall_time_in_the_spring_forward_gap_moves_forward_by_the_gap():
    start = datetime(2026, 3, 7, 2, 30, tzinfo=NEW_YORK)
    end = parse_duration("P1D").end_from(start, NEW_YORK)
    assert end == datetime(2026, 3, 8, 3, 30, tzinfo=NEW_YORK)
    assert end == utc(2026, 3, 8, 7, 30)


def test_an_ambiguous_wall_time_on_the_fall_back_day_means_its_first_occurrence():
    start = datetime(2026, 10, 31, 1, 30, tzinfo=NEW_YORK)
    end = parse_duration("P1D").end_from(start, NEW_YORK)
    assert end == utc(2026, 11, 1, 5, 30)  # 01:30 EDT, not 01:30 EST
    assert hours_between(start, end) == 24


def test_an_exact_duration_from_the_second_occurrence_of_an_ambiguous_time_stays_elapsed():
    second_half_past_one = datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=NEW_YORK)
    assert parse_duration("PT1H").end_from(second_half_past_one, NEW_YORK) == utc(2026, 11, 1, 7, 30)


def test_a_start_given_in_utc_is_moved_to_the_wall_clock_of_the_zone_first():
    start = utc(2026, 3, 8, 5)  # midnight in New York
    assert parse_duration("P1D").end_from(start, NEW_YORK) == utc(2026, 3, 9, 4)
    assert parse_duration("P1D").end_from(start, UTC) == utc(2026, 3, 9, 5)


def test_the_end_is_in_utc():
    end = parse_duration("P1D").end_from(datetime(2026, 6, 1, tzinfo=BERLIN), BERLIN)
    assert end.tzinfo is UTC
    assert end == utc(2026, 6, 1, 22)


def test_a_naive_start_is_refused():
    with pytest.raises(InvalidValueError, match="no time zone"):
        parse_duration("P1D").end_from(datetime(2026, 3, 8), NEW_YORK)


def test_a_duration_ending_beyond_the_calendar_is_refused():
    with pytest.raises(InvalidValueError, match="outside the calendar"):
        parse_duration("P9000Y").end_from(utc(2026, 1, 1), UTC)
    with pytest.raises(InvalidValueError):
        parse_duration("PT999999999999H").end_from(utc(2026, 1, 1), UTC)


# --- intervals ----------------------------------------------------------------------


def test_an_interval_is_kept_in_utc():
    interval = Interval(datetime(2026, 6, 1, 2, tzinfo=BERLIN), datetime(2026, 6, 1, 3, tzinfo=BERLIN))
    assert interval.start == utc(2026, 6, 1) and interval.start.tzinfo is UTC
    assert interval.end.tzinfo is UTC


def test_an_interval_that_does_not_end_after_it_starts_is_refused():
    with pytest.raises(InvalidValueError, match="must end after it starts"):
        Interval(utc(2026, 1, 1, 1), utc(2026, 1, 1, 1))
    with pytest.raises(InvalidValueError, match="must end after it starts"):
        Interval(utc(2026, 1, 1, 2), utc(2026, 1, 1, 1))


def test_an_interval_with_a_naive_end_is_refused():
    with pytest.raises(InvalidValueError, match="no time zone"):
        Interval(utc(2026, 1, 1), datetime(2026, 1, 2))


def test_an_interval_of_a_duration_uses_the_wall_clock_of_the_zone():
    assert Interval.of(datetime(2026, 3, 8, tzinfo=NEW_YORK), parse_duration("P1D"), NEW_YORK).hours == 23
    assert Interval.of(utc(2026, 3, 8), parse_duration("P1D")).hours == 24


@pytest.mark.parametrize(
    ("duration", "hours"),
    [("PT1H", Decimal(1)), ("PT15M", Decimal("0.25")), ("PT90M", Decimal("1.5")), ("P1D", Decimal(24)),
     ("PT9S", Decimal("0.0025")), ("P366D", Decimal(8784))],
)
def test_the_hours_of_an_interval_are_exact_when_they_terminate(duration, hours):
    assert Interval.of(utc(2028, 1, 1), parse_duration(duration)).hours == hours


def test_the_hours_of_five_minutes_are_a_twelfth_to_fifty_digits():
    hours = Interval.of(utc(2026, 1, 1), parse_duration("PT5M")).hours
    assert hours == Decimal("0.08" + "3" * 49)
    assert len(hours.as_tuple().digits) == 50


def test_seconds_and_microseconds_count_elapsed_time():
    interval = Interval.of(datetime(2026, 3, 8, tzinfo=NEW_YORK), parse_duration("P1D"), NEW_YORK)
    assert interval.seconds == 23 * 3600
    assert interval.microseconds == 23 * 3600 * 1_000_000


def test_the_seconds_of_an_interval_with_a_fraction_of_a_second_are_refused_not_rounded():
    with pytest.raises(InvalidValueError, match="whole number of seconds"):
        Interval.of(utc(2026, 1, 1), parse_duration("PT1.5S")).seconds


def test_an_interval_contains_its_start_but_not_its_end():
    hour = Interval(utc(2026, 1, 1, 10), utc(2026, 1, 1, 11))
    assert hour.contains(utc(2026, 1, 1, 10))
    assert hour.contains(datetime(2026, 1, 1, 11, 59, tzinfo=BERLIN))
    assert not hour.contains(utc(2026, 1, 1, 11))
    assert not hour.contains(utc(2026, 1, 1, 9, 59))


def test_a_naive_instant_cannot_be_tested_for_containment():
    with pytest.raises(InvalidValueError):
        Interval(utc(2026, 1, 1, 10), utc(2026, 1, 1, 11)).contains(datetime(2026, 1, 1, 10, 30))


def test_an_interval_contains_the_intervals_nested_in_it():
    day = Interval(utc(2026, 1, 1), utc(2026, 1, 2))
    assert day.contains(Interval(utc(2026, 1, 1, 10), utc(2026, 1, 1, 11)))
    assert day.contains(day)
    assert not day.contains(Interval(utc(2026, 1, 1, 23), utc(2026, 1, 2, 1)))


def test_intervals_that_only_touch_do_not_overlap():
    morning = Interval(utc(2026, 1, 1, 6), utc(2026, 1, 1, 12))
    afternoon = Interval(utc(2026, 1, 1, 12), utc(2026, 1, 1, 18))
    assert not morning.overlaps(afternoon)
    assert morning.intersection(afternoon) is None


def test_the_intersection_of_overlapping_intervals_is_their_common_time():
    a = Interval(utc(2026, 1, 1, 6), utc(2026, 1, 1, 12))
    b = Interval(utc(2026, 1, 1, 10), utc(2026, 1, 1, 18))
    assert a.overlaps(b) and b.overlaps(a)
    assert a.intersection(b) == b.intersection(a) == Interval(utc(2026, 1, 1, 10), utc(2026, 1, 1, 12))


def test_an_hour_splits_into_twelve_five_minute_steps():
    steps = Interval(utc(2026, 1, 1, 10), utc(2026, 1, 1, 11)).split(RESOLUTIONS["PT5M"])
    assert len(steps) == 12
    assert steps[0] == Interval(utc(2026, 1, 1, 10), utc(2026, 1, 1, 10, 5))
    assert all(a.end == b.start for a, b in zip(steps, steps[1:]))
    assert steps[-1].end == utc(2026, 1, 1, 11)


def test_the_last_piece_of_a_split_is_shorter_when_the_step_does_not_divide_the_interval():
    steps = Interval(utc(2026, 1, 1, 10), utc(2026, 1, 1, 11)).split(timedelta(minutes=25))
    assert [step.duration_text() for step in steps] == ["PT25M", "PT25M", "PT10M"]


def test_a_split_step_must_be_positive():
    hour = Interval(utc(2026, 1, 1, 10), utc(2026, 1, 1, 11))
    for step in (timedelta(0), timedelta(minutes=-5), 300):
        with pytest.raises(InvalidValueError):
            hour.split(step)


@pytest.mark.parametrize(
    ("length", "text"),
    [(timedelta(hours=24), "PT24H"), (timedelta(minutes=5), "PT5M"), (timedelta(minutes=90), "PT1H30M"),
     (timedelta(hours=1, seconds=1), "PT1H1S"), (timedelta(milliseconds=500), "PT0.5S"),
     (timedelta(days=366), "PT8784H"), (timedelta(seconds=61, microseconds=1), "PT1M1.000001S")],
)
def test_the_length_of_an_interval_reads_as_an_exact_duration(length, text):
    interval = Interval(utc(2026, 1, 1), utc(2026, 1, 1) + length)
    assert interval.duration_text() == text
    assert parse_duration(text).exact == length


def test_to_utc_keeps_the_instant():
    assert to_utc(datetime(2026, 1, 1, 1, tzinfo=timezone(timedelta(hours=1)))) == utc(2026, 1, 1)


# --- grid resolutions ---------------------------------------------------------------


def test_the_named_resolutions_are_five_minutes_a_quarter_hour_and_an_hour():
    assert dict(RESOLUTIONS) == {
        "PT5M": timedelta(minutes=5),
        "PT15M": timedelta(minutes=15),
        "PT1H": timedelta(hours=1),
    }
    assert all(parse_resolution(text) == step for text, step in RESOLUTIONS.items())


def test_a_resolution_may_be_any_exact_duration_of_a_minute_or_more():
    assert parse_resolution("PT1M") == timedelta(minutes=1)
    assert parse_resolution("PT24H") == timedelta(days=1)
    assert parse_resolution("PT90S") == timedelta(seconds=90)


@pytest.mark.parametrize("text", ["P1D", "P1W", "P1M", "P1Y", "P1DT1H"])
def test_a_calendar_resolution_is_refused(text):
    with pytest.raises(InvalidValueError, match="not calendar"):
        parse_resolution(text)


@pytest.mark.parametrize("text", ["PT59S", "PT0.5S"])
def test_a_resolution_under_a_minute_is_refused(text):
    with pytest.raises(InvalidValueError, match="at least PT1M"):
        parse_resolution(text)


def test_an_invalid_resolution_text_is_refused_as_a_duration():
    with pytest.raises(InvalidValueError, match="Invalid duration"):
        parse_resolution("5 minutes")
