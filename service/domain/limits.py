"""What the service can hold: the documented bounds of every value a request carries.

The schemas allow strings, decimals and dateTimes of any size; PostgreSQL and Python do not
(a btree key of more than ~2,700 bytes, a NUMERIC beyond 10^131072, a datetime outside the
years 1-9999). These bounds, stated here once and in README.md ("Limits"), keep every value
well inside what the tables, the indexes and the arithmetic take:

- **Text**: every element's text the service reads (identifiers, nodes, market contexts,
  numbers, times, the UsernameToken's parts) at most ``MAX_TEXT_CHARS`` characters. The widest
  index key, a position's (party, market context, receipt node, delivery node, ...), then stays
  under 2,100 bytes even in four-byte characters.
- **Repeats**: at most ``MAX_ITEMS`` elements of one kind under one parent (tenders,
  transactions, exercises, listed IDs, filters), so a request's work stays bounded and linear.
- **Amounts**: a rate in kW or a price per kWh (after the SI scale is applied) under
  10^``MAX_AMOUNT_DIGITS`` in magnitude, with no digit finer than 10^-``MAX_AMOUNT_DECIMALS``:
  at most 50 digits from the first to the last, so the sums and differences of such amounts
  (what remains of a tender) are exact in ``units.DECIMAL_CONTEXT``.
- **Instants**: from ``EARLIEST`` (inclusive) to ``LATEST`` (exclusive), in UTC: every
  delivery interval's start and end, expiration dates, interval filters and windows. Room is
  left on both sides for the arithmetic (lead times, grid alignment) within Python's years 1-9999.

Text lengths and repeats are checked on the payload before it is read (a SOAP fault:
``service.soap.bounds``); amounts and instants where they are converted (units, intervals),
as an InvalidValueError (400) that the readers locate at the element.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from service.domain.errors import InvalidValueError

MAX_TEXT_CHARS = 128
MAX_ITEMS = 1000
MAX_AMOUNT_DIGITS = 20
MAX_AMOUNT_DECIMALS = 30
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)

_AMOUNT_BOUND = Decimal(10) ** MAX_AMOUNT_DIGITS


def check_amount(value: Decimal, what: str) -> Decimal:
    """``value`` (a normalised rate in kW or price per kWh) if it is within the bounds."""
    if value.is_zero():
        return value
    if abs(value) >= _AMOUNT_BOUND or value.as_tuple().exponent < -MAX_AMOUNT_DECIMALS:
        raise InvalidValueError(
            f"The {what} {value:.6g} is out of range: it must be under 10^{MAX_AMOUNT_DIGITS} "
            f"with no digit below 10^-{MAX_AMOUNT_DECIMALS}"
        )
    return value


def out_of_range(what: str, text: str) -> InvalidValueError:
    return InvalidValueError(
        f"The {what} {text} is outside the supported range "
        f"{EARLIEST.isoformat()} to {LATEST.isoformat()} (UTC)"
    )


def check_instant(instant: datetime, what: str) -> datetime:
    """``instant`` (aware, in UTC) if it is within [EARLIEST, LATEST)."""
    if not EARLIEST <= instant < LATEST:
        raise out_of_range(what, instant.isoformat())
    return instant
