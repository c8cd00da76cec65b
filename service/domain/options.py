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
from datetime import datetime, timedelta
from decimal import Decimal
from enum import Enum

from service.domain.errors import InvalidValueError, QuantityUnavailableError, TermsMismatchError
from service.domain.intervals import Interval, exact_duration_text
from service.domain.tenders import Side


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


def check_exercise(
    option_interval: Interval,
    option_rate_kw: Decimal,
    earlier: list[Exercise],
    wanted: Exercise,
    now: datetime,
    lead_time: timedelta,
    granularity: timedelta,
) -> None:
    """Raise the first rule that exercising ``wanted`` would break, given the ``earlier``
    exercises of the same option."""
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
    most = max_overlap(earlier, sub)
    if most + wanted.rate_kw > option_rate_kw:
        raise QuantityUnavailableError(
            f"{wanted.rate_kw} kW more than the option's {option_rate_kw} kW allow "
            f"({most} kW already exercised in that interval)"
        )


def max_overlap(exercises: list[Exercise], window: Interval) -> Decimal:
    """The largest total rate the exercises reach at any instant inside ``window``."""
    points = sorted(
        {window.start}
        | {e.interval.start for e in exercises if window.contains(e.interval.start)}
    )
    return max(
        (sum((e.rate_kw for e in exercises if e.interval.contains(at)), Decimal(0)) for at in points),
        default=Decimal(0),
    )


