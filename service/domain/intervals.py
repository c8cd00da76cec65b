"""Delivery intervals and the ISO 8601 durations that describe them.

A TeMIX product is delivered at a constant rate over an interval given as a start and an
ISO 8601 duration. Calendar parts of a duration (years, months, weeks, days) follow the
wall clock of the market's time zone, so a day is 23, 24 or 25 hours long; the exact part
(hours, minutes, seconds) is elapsed time. Intervals are half-open, [start, end), in UTC.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal, localcontext
from functools import lru_cache
from types import MappingProxyType

from service.domain.errors import InvalidValueError
from service.domain.limits import check_instant, out_of_range
from service.domain.units import DECIMAL_CONTEXT

MICROSECONDS_PER_HOUR = 3_600_000_000

# Grid resolutions of the nested TeMIX intervals below the day. The day, month and year
# levels are calendar durations and vary in length, so they are not resolutions.
RESOLUTIONS = MappingProxyType(
    {
        "PT5M": timedelta(minutes=5),
        "PT15M": timedelta(minutes=15),
        "PT1H": timedelta(hours=1),
    }
)

MINIMUM_RESOLUTION = timedelta(minutes=1)

# No real duration needs more; the bound also keeps int() away from huge digit strings.
_MAX_DURATION_TEXT = 100

_DURATION = re.compile(
    r"P(?:(?P<years>[0-9]+)Y)?(?:(?P<months>[0-9]+)M)?(?:(?P<weeks>[0-9]+)W)?"
    r"(?:(?P<days>[0-9]+)D)?"
    r"(?P<time>T(?:(?P<hours>[0-9]+)H)?(?:(?P<minutes>[0-9]+)M)?"
    r"(?:(?P<seconds>[0-9]+(?:\.[0-9]+)?)S)?)?"
)
_CALENDAR_PARTS = ("years", "months", "weeks", "days")
_TIME_PARTS = ("hours", "minutes", "seconds")
_FRACTION_BEFORE_NON_SECONDS = re.compile(r"\.[0-9]*[YMWDH]")
_FRACTION_ON_MINUTES = re.compile(r"T.*\.[0-9]*M")


def utc_text(instant: datetime) -> str:
    """An aware instant as ISO 8601 in UTC with ``Z``, as exports and listings write it."""
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def to_utc(instant: datetime, what: str = "time") -> datetime:
    """The same instant in UTC; a naive datetime names no instant and is refused, and one
    outside the supported years (``limits``) too."""
    if not isinstance(instant, datetime):
        raise InvalidValueError(f"The {what} {instant!r} is not a date and time")
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise InvalidValueError(f"The {what} {instant.isoformat()} has no time zone")
    try:
        utc = instant.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:59:59-14:00 is in year 10000 in UTC
        raise out_of_range(what, instant.isoformat()) from None
    return check_instant(utc, what)


@dataclass(frozen=True)
class Duration:
    """An ISO 8601 duration: a calendar part (wall-clock) and an exact part (elapsed)."""

    years: int = 0
    months: int = 0
    weeks: int = 0
    days: int = 0
    hours: int = 0
    minutes: int = 0
    seconds: Decimal = Decimal(0)

    def __post_init__(self):
        for name in (*_CALENDAR_PARTS, "hours", "minutes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidValueError(
                    f"Invalid duration: the {name} must be a whole number >= 0, got {value!r}"
                )
        seconds = self.seconds
        if isinstance(seconds, int) and not isinstance(seconds, bool):
            seconds = Decimal(seconds)
            object.__setattr__(self, "seconds", seconds)
        if not isinstance(seconds, Decimal) or not seconds.is_finite() or seconds < 0:
            raise InvalidValueError(
                f"Invalid duration: the seconds must be a decimal >= 0, got {seconds!r}"
            )
        _whole_microseconds(seconds)
        if not (self.is_calendar or self.hours or self.minutes or seconds):
            raise InvalidValueError(
                "Invalid duration: it is zero; a delivery interval needs a positive duration"
            )

    @property
    def is_calendar(self) -> bool:
        """True if any part follows the wall clock (Y, M, W, D)."""
        return bool(self.years or self.months or self.weeks or self.days)

    @property
    def exact(self) -> timedelta:
        """The exact part (H, M, S) as elapsed time."""
        try:
            return timedelta(
                hours=self.hours,
                minutes=self.minutes,
                microseconds=_whole_microseconds(self.seconds),
            )
        except OverflowError as error:
            raise InvalidValueError(f"The duration {self} is too long") from error

    def end_from(self, start: datetime, tz: tzinfo) -> datetime:
        """The end of an interval of this duration beginning at ``start``, in UTC.

        The calendar part moves the wall clock of ``tz``: years and months first, clamping the
        day to the last of the month (Jan 31 + P1M = Feb 28 or 29), then weeks and days. A wall
        time that falls in a spring-forward gap is read with fold=0 (PEP 495), that is with the
        offset in force before the gap, so it moves forward by the gap (02:30 becomes 03:30);
        an ambiguous fall-back time means its first occurrence. The exact part is then added
        as elapsed time, so PT24H is always 24 hours while P1D is a calendar day.
        """
        start = to_utc(start, "start")
        try:
            end = start
            if self.is_calendar:
                end = _add_calendar(start.astimezone(tz), self).astimezone(UTC)
            return end + self.exact
        except (OverflowError, ValueError) as error:
            raise InvalidValueError(
                f"The duration {self} from {start.isoformat()} ends outside the calendar"
            ) from error

    def format(self) -> str:
        """The canonical ISO 8601 text: zero parts left out, seconds without trailing zeros.

        Parts are not carried (PT90M stays PT90M), so a canonical text reads back unchanged.
        """
        date = "".join(
            f"{value}{designator}"
            for value, designator in zip((self.years, self.months, self.weeks, self.days), "YMWD")
            if value
        )
        time = "".join(
            f"{value}{designator}"
            for value, designator in zip((self.hours, self.minutes), "HM")
            if value
        )
        if self.seconds:
            time += f"{self.seconds.normalize(DECIMAL_CONTEXT):f}S"
        return f"P{date}" + (f"T{time}" if time else "")

    def __str__(self) -> str:
        return self.format()


def _whole_microseconds(seconds: Decimal) -> int:
    """The seconds in microseconds, computed on the digits so that nothing can round."""
    if seconds.adjusted() > 15:  # beyond timedelta's range of about 10**14 seconds
        raise InvalidValueError(
            f"Invalid duration: the seconds {seconds:f} are more than any interval can last"
        )
    _, digits, exponent = seconds.as_tuple()
    coefficient = int("".join(map(str, digits)))
    shift = exponent + 6
    if shift >= 0:
        return coefficient * 10**shift
    whole, rest = divmod(coefficient, 10**-shift)
    if rest:
        # datetime counts microseconds; a finer fraction could only be rounded away.
        raise InvalidValueError(
            f"Invalid duration: the seconds {seconds:f} are finer than a microsecond"
        )
    return whole


def _add_calendar(local: datetime, duration: Duration) -> datetime:
    month_index = local.year * 12 + local.month - 1 + duration.years * 12 + duration.months
    year, month = divmod(month_index, 12)
    month += 1
    day = min(local.day, calendar.monthrange(year, month)[1])
    moved = local.replace(year=year, month=month, day=day, fold=0)
    # Adding days to a naive wall time keeps the clock reading; the zone is reattached after.
    wall = moved.replace(tzinfo=None) + timedelta(weeks=duration.weeks, days=duration.days)
    return wall.replace(tzinfo=local.tzinfo, fold=0)


@lru_cache(maxsize=1024)  # a market reuses a few durations; a Duration is immutable
def parse_duration(text: str) -> Duration:
    """Read a strict ISO 8601 duration ``PnYnMnWnDTnHnMnS``; refuse what TeMIX cannot use.

    Surrounding whitespace is ignored. Refused: a sign (TeMIX durations are positive), a
    fraction anywhere but on the seconds, a ',' decimal mark, a 'T' with no time part, no
    part at all, a zero duration, and seconds finer than a microsecond.
    """
    if not isinstance(text, str):
        raise InvalidValueError(f"The duration {text!r} is not text")
    stripped = text.strip()

    def refuse(problem: str) -> InvalidValueError:
        return InvalidValueError(f"Invalid duration {text!r}: {problem}")

    if not stripped:
        raise refuse("it is empty")
    if len(stripped) > _MAX_DURATION_TEXT:
        raise refuse(f"it is longer than {_MAX_DURATION_TEXT} characters")
    if stripped[0] in "+-":
        raise refuse("a duration must not carry a sign; TeMIX durations are positive")
    if stripped[0] != "P":
        raise refuse("an ISO 8601 duration starts with 'P'")
    if "," in stripped:
        raise refuse("use '.' as the decimal mark")
    match = _DURATION.fullmatch(stripped)
    if match is None:
        if _FRACTION_BEFORE_NON_SECONDS.search(stripped) or _FRACTION_ON_MINUTES.search(stripped):
            raise refuse("only the seconds may have a fraction")
        raise refuse(
            "expected PnYnMnWnDTnHnMnS: parts in this order, upper-case designators, "
            "whole numbers (a fraction only on the seconds)"
        )
    parts = match.groupdict()
    if parts["time"] is not None and not any(parts[name] for name in _TIME_PARTS):
        raise refuse("'T' must be followed by hours, minutes or seconds")
    if not any(value for name, value in parts.items() if name != "time"):
        raise refuse("it has no parts")
    try:
        return Duration(
            **{name: int(parts[name] or 0) for name in (*_CALENDAR_PARTS, "hours", "minutes")},
            seconds=Decimal(parts["seconds"] or 0),
        )
    except InvalidValueError as error:
        raise refuse(error.description.removeprefix("Invalid duration: ")) from error


def parse_resolution(text: str) -> timedelta:
    """A grid step such as PT5M: an exact duration of at least a minute.

    Calendar parts are refused, days included: a day is 23 to 25 hours across daylight
    saving, so a grid step of one day is written PT24H (elapsed) on purpose.
    """
    duration = parse_duration(text)
    if duration.is_calendar:
        raise InvalidValueError(
            f"Invalid resolution {text!r}: a resolution is elapsed time (hours, minutes, seconds), "
            "not calendar years, months, weeks or days"
        )
    step = duration.exact
    if step < MINIMUM_RESOLUTION:
        raise InvalidValueError(f"Invalid resolution {text!r}: it must be at least PT1M")
    return step


@dataclass(frozen=True)
class Interval:
    """A half-open delivery interval [start, end) between two UTC instants."""

    start: datetime
    end: datetime

    def __post_init__(self):
        start = to_utc(self.start, "interval start")
        end = to_utc(self.end, "interval end")
        if not start < end:
            raise InvalidValueError(
                f"An interval must end after it starts: {start.isoformat()} to {end.isoformat()}"
            )
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)

    @classmethod
    def of(cls, start: datetime, duration: Duration, tz: tzinfo = UTC) -> Interval:
        """The interval of ``duration`` from ``start``, its calendar part on the clock of ``tz``."""
        return cls(start, duration.end_from(start, tz))

    @classmethod
    def trusted(cls, start: datetime, end: datetime) -> Interval:
        """An interval of UTC instants with ``start < end``, not checked again: for callers that
        derive them from a checked interval (a profile makes hundreds, and the checks cost more
        than the rest of a step)."""
        interval = object.__new__(cls)
        object.__setattr__(interval, "start", start)
        object.__setattr__(interval, "end", end)
        return interval

    @property
    def microseconds(self) -> int:
        return (self.end - self.start) // timedelta(microseconds=1)

    @property
    def seconds(self) -> int:
        """Elapsed whole seconds; a fraction of a second is refused, not rounded."""
        whole, rest = divmod(self.microseconds, 1_000_000)
        if rest:
            raise InvalidValueError(
                f"The interval {self.duration_text()} is not a whole number of seconds"
            )
        return whole

    @property
    def hours(self) -> Decimal:
        """Elapsed hours as a decimal.

        Exact when the quotient terminates (any multiple of 9 seconds, so every quarter hour);
        otherwise, as for 5 minutes = 1/12 h, correctly rounded to the 50 digits of
        ``DECIMAL_CONTEXT``: no decimal writes 1/12 exactly.
        """
        with localcontext(DECIMAL_CONTEXT):
            return Decimal(self.microseconds) / MICROSECONDS_PER_HOUR

    def contains(self, other: Interval | datetime) -> bool:
        """Whether an instant lies in [start, end), or another interval lies wholly inside."""
        if isinstance(other, Interval):
            return self.start <= other.start and other.end <= self.end
        return self.start <= to_utc(other, "instant") < self.end

    def overlaps(self, other: Interval) -> bool:
        """Whether the two share some time; intervals that only touch do not."""
        return self.start < other.end and other.start < self.end

    def intersection(self, other: Interval) -> Interval | None:
        start, end = max(self.start, other.start), min(self.end, other.end)
        return Interval(start, end) if start < end else None

    def split(self, step: timedelta) -> list[Interval]:
        """Consecutive pieces of ``step`` from ``start``; the last piece is shorter if ``step``
        does not divide the interval. Align ``start`` to the grid first to get grid cells."""
        if not isinstance(step, timedelta) or step <= timedelta(0):
            raise InvalidValueError(f"A grid step must be a positive duration, got {step!r}")
        pieces = []
        start = self.start
        while start < self.end:
            end = min(start + step, self.end)
            pieces.append(Interval(start, end))
            start = end
        return pieces

    def duration_text(self) -> str:
        """The elapsed length as an exact ISO 8601 duration: PT24H, PT5M, PT1H30M, PT0.5S."""
        return exact_duration_text(self.end - self.start)


def exact_duration_text(delta: timedelta) -> str:
    """A timedelta as an exact ISO 8601 duration (hours, minutes, seconds): PT24H, PT0S."""
    if delta == timedelta(0):
        return "PT0S"
    minutes, microseconds = divmod(delta // timedelta(microseconds=1), 60_000_000)
    hours, minutes = divmod(minutes, 60)
    seconds, fraction = divmod(microseconds, 1_000_000)
    text = "PT"
    if hours:
        text += f"{hours}H"
    if minutes:
        text += f"{minutes}M"
    if fraction:
        text += f"{seconds}.{fraction:06d}".rstrip("0") + "S"
    elif seconds:
        text += f"{seconds}S"
    return text
