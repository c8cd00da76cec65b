"""Quantities and prices in the units the parties use, normalised to kW, kWh and per-kWh.

A party states a rate as a number of (SI scale) watts, e.g. 10 kW or 2 MW, and a price per
(SI scale) watt-hour. Inside the service every rate is in kW and every price per kWh, so
that tenders and transactions in different scales compare and add. All arithmetic is
decimal, in DECIMAL_CONTEXT: 50 significant digits, far more than any wire value carries.
"""

from __future__ import annotations

from decimal import (
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    Underflow,
    localcontext,
)
from functools import lru_cache
from types import MappingProxyType
from typing import TYPE_CHECKING

from service.domain.errors import InvalidValueError
from service.domain.limits import check_amount

if TYPE_CHECKING:
    from service.domain.intervals import Interval

DECIMAL_CONTEXT = Context(
    prec=50, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow]
)

# The power of ten of each SI scale code of siscale.xsd; 'none' is the native unit.
SI_EXPONENTS = MappingProxyType(
    {
        "p": -12, "n": -9, "micro": -6, "m": -3, "c": -2, "d": -1,
        "none": 0, "k": 3, "M": 6, "G": 9, "T": 12,
    }
)

# power:powerReal allows exactly these two spellings of the watt.
REAL_POWER_UNITS = frozenset({"W", "J/s"})

_KILO = 3
_ONE = Decimal(1)
_MICROSECONDS_PER_HOUR = 3_600_000_000


def _exponent(scale_code: str) -> int:
    code = scale_code.strip() if isinstance(scale_code, str) else scale_code
    try:
        return SI_EXPONENTS[code]
    except (KeyError, TypeError):
        raise InvalidValueError(
            f"Unknown SI scale code {scale_code!r}; expected one of {', '.join(SI_EXPONENTS)}"
        ) from None


def _finite(value: Decimal, what: str) -> Decimal:
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if not isinstance(value, Decimal):
        raise TypeError(f"The {what} must be a Decimal (never a float), got {type(value).__name__}")
    if not value.is_finite():
        raise InvalidValueError(f"The {what} must be a finite number, got {value}")
    return value


def plain(value: Decimal) -> Decimal:
    """The same number without trailing zeros or exponent: 0.5 not 5E-1, 2000 not 2E+3.

    ``str()`` still writes numbers under 1E-6 in exponent form (Decimal's own rule);
    render with ``format(value, "f")`` to avoid it.
    """
    if value.is_zero():
        return Decimal(0)
    # The context passed, not entered: profiles call this 1,440 times per request.
    normal = value.normalize(DECIMAL_CONTEXT)
    # An exponent > 0 (2E+3) means adjusted() > 0, where str() uses an exponent only then;
    # cheaper than as_tuple(), which builds a tuple of up to 50 digits.
    if 0 < normal.adjusted() < DECIMAL_CONTEXT.prec and "E" in str(normal):
        return normal.quantize(_ONE, context=DECIMAL_CONTEXT)
    return normal


def _rescale(value: Decimal, exponent: int, what: str) -> Decimal:
    """``value`` times 10**exponent; refused rather than rounded if it has too many digits."""
    with localcontext(DECIMAL_CONTEXT) as context:
        context.traps[Inexact] = True
        try:
            return plain(_finite(value, what).scaleb(exponent))
        except (Overflow, Underflow):  # before Inexact, which they specialise
            raise InvalidValueError(f"The {what} {value:.6g} is out of range") from None
        except Inexact:
            raise InvalidValueError(
                f"The {what} {value} has more than {context.prec} significant digits"
            ) from None


def si_multiplier(scale_code: str) -> Decimal:
    """The multiplier of an SI scale code: 'k' -> 1000, 'm' -> 0.001, 'none' -> 1."""
    return plain(Decimal(1).scaleb(_exponent(scale_code)))


def rate_kw(quantity: Decimal, item_units: str, scale_code: str) -> Decimal:
    """A power:powerReal quantity (in scaled W or J/s) as kW, exactly."""
    units = item_units.strip() if isinstance(item_units, str) else item_units
    if units not in REAL_POWER_UNITS:
        raise InvalidValueError(f"Real power is in 'W' or 'J/s', not {item_units!r}")
    return check_amount(_rescale(quantity, _exponent(scale_code) - _KILO, "quantity"), "rate in kW")


def metered_kwh(quantity: Decimal, scale_code: str) -> Decimal:
    """A power:energyReal quantity (in scaled Wh) as kWh, exactly, within the amount bounds."""
    return check_amount(_rescale(quantity, _exponent(scale_code) - _KILO, "quantity"), "energy in kWh")


@lru_cache(maxsize=4096)  # a list of 100 tenders re-renders few distinct rates; the result is plain()
def to_scale(kw: Decimal, scale_code: str) -> Decimal:
    """A rate in kW in the party's own scale of watts (the inverse of ``rate_kw``)."""
    return _rescale(kw, _KILO - _exponent(scale_code), "rate")


def price_per_kwh(price: Decimal, energy_unit_scale: str) -> Decimal:
    """A price per (scale)Wh as a price per kWh: 80 per MWh is 0.08 per kWh."""
    return check_amount(_rescale(price, _KILO - _exponent(energy_unit_scale), "price"), "price per kWh")


def price_from_kwh(price_kwh: Decimal, energy_unit_scale: str) -> Decimal:
    """A price per kWh as a price per (scale)Wh (the inverse of ``price_per_kwh``)."""
    return _rescale(price_kwh, _exponent(energy_unit_scale) - _KILO, "price")


def energy_kwh(rate_kw: Decimal, interval: Interval) -> Decimal:
    """The energy of a constant rate over an interval, rate x hours.

    Computed as rate x microseconds / 3.6e9 with one division, so the result is exact when
    it terminates and otherwise correctly rounded to 50 digits (5 minutes is 1/12 h).
    """
    rate = _finite(rate_kw, "rate")
    with localcontext(DECIMAL_CONTEXT):
        return plain(rate * interval.microseconds / _MICROSECONDS_PER_HOUR)


def extended_price(price_per_kwh: Decimal, energy_kwh: Decimal) -> Decimal:
    """What an energy costs at a price per kWh: price x energy."""
    price = _finite(price_per_kwh, "price")
    energy = _finite(energy_kwh, "energy")
    with localcontext(DECIMAL_CONTEXT):
        return plain(price * energy)
