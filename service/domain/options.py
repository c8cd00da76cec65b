"""TeMIX options on power and transport: calls and puts, and their exercise.

An option transaction gives its holder (the party on the option's holder side) the right,
not the obligation, to transact the underlying product with the writer (the other party)
at the strike price: a call to buy, a put to sell, up to the option's rate, over
sub-intervals of the option's interval. Its price is the premium (per unit of energy over
the whole option interval). Exercise must come at least the market's lead time before the
sub-interval starts, and sub-intervals are whole steps of the market's granularity counted
from the option's start.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from decimal import Decimal, localcontext
from enum import Enum

from service.domain.errors import InvalidValueError, QuantityUnavailableError, TermsMismatchError
from service.domain import units
from service.domain.intervals import Interval, exact_duration_text, parse_duration
from service.domain.tenders import Side
from service.domain.units import DECIMAL_CONTEXT


class OptionType(str, Enum):
    CALL = "call"
    PUT = "put"

    @property
    def holder_underlying_side(self) -> Side:
        """A call's holder buys the underlying; a put's holder sells it."""
        return Side.BUY if self is OptionType.CALL else Side.SELL


def option_type(text: str) -> OptionType:
    try:
        return OptionType(text.strip().lower())
    except ValueError:
        raise InvalidValueError(f"optionType must be 'call' or 'put', not {text!r}") from None


@dataclass(frozen=True)
class OptionTerms:
    option_type: OptionType
    holder_side: Side
    strike_per_kwh: Decimal

    def check_matches(self, offered: "OptionTerms") -> None:
        for name, want, got in (
            ("optionType", offered.option_type, self.option_type),
            ("optionHolderSide", offered.holder_side, self.holder_side),
            ("optionStrikePrice", offered.strike_per_kwh, self.strike_per_kwh),
        ):
            if want != got:
                raise TermsMismatchError(f"The {name} differs from the option tender's: {_plain(got)} != {_plain(want)}")


def _plain(value) -> str:
    return value.value if isinstance(value, Enum) else str(value)


def holder_of(acceptor_id: str, maker_id: str, acceptor_side: Side, holder_side: Side) -> tuple[str, str]:
    """(holder, writer) of an option transaction, from the sides of its two parties."""
    return (acceptor_id, maker_id) if acceptor_side is holder_side else (maker_id, acceptor_id)


@dataclass(frozen=True)
class Exercise:
    interval: Interval
    rate_kw: Decimal


def exercise_of(
    start: datetime, duration_text: str, duration_at: str, quantity, quantity_at: str, tz: tzinfo, rate_scale: str
) -> Exercise:
    """An exercise as asked, read against its option: the duration in the option's market
    time zone, the rate (in W) at the option's scale. Errors name where the value stands."""
    try:
        interval = Interval.of(start, parse_duration(duration_text), tz)
    except InvalidValueError as exc:
        raise InvalidValueError(f"{exc.description} at {duration_at}") from exc
    try:
        rate_kw = units.rate_kw(quantity, "W", rate_scale)
    except InvalidValueError as exc:
        raise InvalidValueError(f"{exc.description} at {quantity_at}") from None
    return Exercise(interval, rate_kw)


def check_exercises(
    option_interval: Interval,
    option_rate_kw: Decimal,
    earlier: list[Exercise],
    wanted: list[Exercise],
    now: datetime,
    lead_time: timedelta,
    granularity: timedelta,
) -> None:
    """Raise the first rule that exercising all of ``wanted`` would break, given the ``earlier``
    exercises of the same option: each one's own terms in order, then the option's rate at
    every instant (one sweep over all of them, so the cost is n log n, not n^2)."""
    for exercise in wanted:
        check_exercise_terms(option_interval, exercise, now, lead_time, granularity)
    exceeded = first_excess(earlier, wanted, option_rate_kw)
    if exceeded is not None:
        at, total, before = exceeded
        raise QuantityUnavailableError(
            f"The exercises would reach {total} kW at {at.isoformat()}, more than the option's "
            f"{option_rate_kw} kW allow ({before} kW already exercised then)"
        )


def check_exercise_terms(
    option_interval: Interval, wanted: Exercise, now: datetime, lead_time: timedelta, granularity: timedelta
) -> None:
    """The rules of one exercise on its own: a positive rate, inside the option's interval,
    whole steps of the granularity from the option's start, at least the lead time ahead."""
    sub = wanted.interval
    if not wanted.rate_kw > 0:
        raise InvalidValueError(f"An exercise needs a positive rate, got {wanted.rate_kw}")
    if not option_interval.contains(sub):
        raise InvalidValueError(
            f"The exercise {sub.start.isoformat()}/{sub.duration_text()} is outside the option's interval"
        )
    step = granularity.total_seconds()
    offset = (sub.start - option_interval.start).total_seconds()
    if offset % step or sub.seconds % step:
        raise InvalidValueError(
            f"The exercise must be whole steps of {exact_duration_text(granularity)} from the option's start"
        )
    if now > sub.start - lead_time:
        raise InvalidValueError(
            f"Too late: exercise at least {exact_duration_text(lead_time)} before {sub.start.isoformat()}"
        )


def first_excess(
    earlier: list[Exercise], wanted: list[Exercise], limit_kw: Decimal
) -> tuple[datetime, Decimal, Decimal] | None:
    """The first instant at which all the exercises together exceed ``limit_kw``, with the
    total then and the part of it the ``earlier`` ones make; None if they never do.

    A sweep over the start and end points in time order: ends before starts at the same
    instant (intervals are half-open), so exercises that only touch never add up."""
    events = []  # (instant, 0 for an end / 1 for a start, signed rate, is earlier)
    for is_earlier, exercises in ((True, earlier), (False, wanted)):
        for exercise in exercises:
            interval, rate = exercise.interval, exercise.rate_kw
            events.append((interval.start, 1, rate, is_earlier))
            events.append((interval.end, 0, -rate, is_earlier))
    events.sort(key=lambda event: event[:2])
    total = before = Decimal(0)
    with localcontext(DECIMAL_CONTEXT):
        for at, starts, rate, is_earlier in events:
            total += rate
            if is_earlier:
                before += rate
            if starts and total > limit_kw:
                return at, total, before
    return None
