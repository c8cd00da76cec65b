"""Settlement: forward positions against metered delivery, the differences settled by
real-time transactions with a market context's balancing party. Plain Python.

Sign conventions (as positions): a sell is positive, a buy negative; delivered energy is
injection positive, withdrawal negative; a value is revenue less cost. So a position of
-2 kW over an hour is a bought 2 kWh, and a meter that read 2 kWh withdrawn delivers -2 kWh.

For each party, interface and settlement interval with a reading:

    imbalance (kWh) = delivered (kWh) - position energy (kWh, rate x duration)

settles as one transaction between the party and the balancing party, transactive state
``delivery``: the party sells a positive imbalance, buys a negative one, at rate
|imbalance| / duration, at the real-time price. Its position energy then equals delivery.
Settling again finds no imbalance; a corrected reading finds only the difference. Nothing
is ever rewritten, so every run is a new, correcting transaction on top of the earlier ones.

Settlement intervals are the market context's calendar: from each local midnight, in steps
of its settlement interval, to the next local midnight (a spring-forward day has 92 quarter
hours, a fall-back day 100).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta, tzinfo
from decimal import Decimal, localcontext
from fractions import Fraction

from service.domain.errors import InvalidValueError
from service.domain.intervals import Interval
from service.domain.tenders import Side
from service.domain.units import DECIMAL_CONTEXT, extended_price, plain

DELIVERY_STATE = "delivery"  # the transactive state of an imbalance transaction
_DAY = timedelta(days=1)
_HOUR_SECONDS = 3600
_MICROSECOND = timedelta(microseconds=1)
_MICROSECONDS_PER_HOUR = 3_600_000_000

# (party, interface, settlement interval): what one imbalance is settled for
SettlementKey = tuple[str, str, Interval]


def check_settlement_step(step: timedelta, day_cut: bool = False) -> None:
    """A settlement interval divides a day, in whole seconds, and an imbalance over it is an
    exact rate (kWh x 3600 / seconds terminates): PT1M, PT5M, PT15M, PT1H, PT2H, ... but not
    PT3H, whose rate would be a third of the energy. ``day_cut``: the last interval of a short
    or long day, which need not divide a day."""
    seconds = step.total_seconds()
    if step <= timedelta(0) or seconds != int(seconds) or (_DAY % step and not day_cut):
        raise InvalidValueError(f"A settlement interval divides a day in whole seconds, not {step}")
    denominator = Fraction(_HOUR_SECONDS, int(seconds)).denominator
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    if denominator != 1:
        raise InvalidValueError(
            f"A settlement interval of {step} makes an imbalance rate inexact (energy / {Fraction(int(seconds), 3600)} h)"
        )


def settlement_intervals(window: Interval, step: timedelta, tz: tzinfo) -> list[Interval]:
    """The settlement intervals inside ``window`` on the market context's calendar: from each
    local midnight in steps of ``step`` up to the next local midnight; only whole intervals
    that lie inside the window."""
    if step <= timedelta(0) or _DAY % step:
        raise InvalidValueError(f"A settlement interval divides a day, not {step}")
    day = window.start.astimezone(tz).date() - timedelta(days=1)  # a midnight at or before the start
    intervals = []
    while True:
        midnight = _midnight(day, tz)
        if midnight >= window.end:
            return intervals
        next_midnight = _midnight(day + timedelta(days=1), tz)
        start = midnight
        while start < next_midnight:
            end = min(start + step, next_midnight)
            if start >= window.start and end <= window.end:
                check_settlement_step(end - start, day_cut=True)
                intervals.append(Interval.trusted(start, end))
            start = end
        day += timedelta(days=1)


def _midnight(day, tz: tzinfo) -> datetime:
    """The first instant of a local date, in UTC (a day that starts at 01:00 after a gap
    starts then)."""
    local = datetime.combine(day, time(0), tzinfo=tz)
    instant = local.astimezone(UTC)
    if instant.astimezone(tz).replace(tzinfo=None) != local.replace(tzinfo=None):  # midnight fell in a gap
        instant = datetime.combine(day, time(1), tzinfo=tz).astimezone(UTC)
    return instant


# ------------------------------------------------------------------ real-time prices


@dataclass(frozen=True)
class PricePoint:
    """A price for one interface and settlement interval: from the balancing party's quote
    (``source`` its quoteID) or the fallback (``source`` ``trade-<n>``)."""

    published_at: datetime
    price_per_kwh: Decimal
    source: str
    currency: str | None = None  # the quote's (or trade's); None: the market context's


def real_time_price(quoted: Iterable[PricePoint], interval: Interval, grace: timedelta) -> PricePoint | None:
    """The balancing party's latest price published before the interval ends plus the grace
    period; of two published at the same instant, the later quoteID (a tie is settled the
    same way every run)."""
    closes = interval.end + grace
    eligible = [point for point in quoted if point.published_at <= closes]
    if not eligible:
        return None
    return max(eligible, key=lambda point: (point.published_at, point.source))


# ------------------------------------------------------------------ imbalances


@dataclass(frozen=True)
class Imbalance:
    """One party's imbalance on one interface and settlement interval, as settled."""

    party_id: str
    interface: str
    interval: Interval
    delivered_kwh: Decimal
    position_kwh: Decimal  # before this settlement
    price: PricePoint

    @property
    def energy_kwh(self) -> Decimal:
        """Delivered less position: positive, the party sells it; negative, it buys it."""
        with localcontext(DECIMAL_CONTEXT):
            return plain(self.delivered_kwh - self.position_kwh)

    @property
    def side(self) -> Side:
        return Side.SELL if self.energy_kwh > 0 else Side.BUY

    @property
    def rate_kw(self) -> Decimal:
        """The transaction's rate: |imbalance| / duration, exact (``check_settlement_step``)."""
        with localcontext(DECIMAL_CONTEXT):
            return plain(abs(self.energy_kwh) * 3_600_000_000 / self.interval.microseconds)

    @property
    def value(self) -> Decimal:
        """The party's value of it: revenue less cost, imbalance x price."""
        return extended_price(self.price.price_per_kwh, self.energy_kwh)


@dataclass(frozen=True)
class Unsettled:
    """A key not settled, and why: no reading, no real-time price."""

    party_id: str
    interface: str
    interval: Interval
    reason: str


NO_READING = "no reading"
NO_PRICE = "no real-time price"


@dataclass
class Settlement:
    """What one run settles and what it leaves."""

    imbalances: list[Imbalance] = field(default_factory=list)
    unsettled: list[Unsettled] = field(default_factory=list)
    balanced: int = 0  # keys with a reading whose position already equals it


def settle(
    delivered: Mapping[SettlementKey, Decimal],
    positions: Mapping[SettlementKey, Decimal],
    price_of: Callable[[str, Interval], PricePoint | None],
    balancing_party_id: str,
) -> Settlement:
    """The imbalances of every key with a reading (a missing position is zero: a party that
    bought nothing settles all it used), in key order; positions without a reading are left
    and reported. The balancing party's own keys are not settled: it is the counterparty of
    last resort, its position is what the others' imbalances leave it."""
    outcome = Settlement()
    for key in sorted(set(delivered) | set(positions), key=_order):
        party_id, interface, interval = key
        if party_id == balancing_party_id:
            continue
        if key not in delivered:
            if positions[key]:
                outcome.unsettled.append(Unsettled(party_id, interface, interval, NO_READING))
            continue
        position = positions.get(key, Decimal(0))
        if delivered[key] == position:
            outcome.balanced += 1
            continue
        price = price_of(interface, interval)
        if price is None:
            outcome.unsettled.append(Unsettled(party_id, interface, interval, NO_PRICE))
            continue
        outcome.imbalances.append(Imbalance(party_id, interface, interval, delivered[key], position, price))
    return outcome


def _order(key: SettlementKey):
    party_id, interface, interval = key
    return interval.start, party_id, interface



def energy_by_interval(
    opening_kw: Decimal, changes: Sequence[tuple[datetime, Decimal]], intervals: Sequence[Interval]
) -> list[Decimal]:
    """A position's energy (kWh) in each of ``intervals`` (sorted, not overlapping): its rate
    is ``opening_kw`` at the first interval's start and changes by each (instant, delta), in
    order. Integrated in kW x microseconds and divided once, so exact when it terminates."""
    rate, energies, pending = opening_kw, [], iter(changes)
    at, delta = next(pending, (None, None))
    with localcontext(DECIMAL_CONTEXT):
        for interval in intervals:
            while at is not None and at <= interval.start:
                rate += delta
                at, delta = next(pending, (None, None))
            total, since = Decimal(0), interval.start
            while at is not None and at < interval.end:
                total += rate * ((at - since) // _MICROSECOND)
                rate += delta
                since = at
                at, delta = next(pending, (None, None))
            total += rate * ((interval.end - since) // _MICROSECOND)
            energies.append(plain(total / _MICROSECONDS_PER_HOUR))
    return energies


# ------------------------------------------------------------------ the run


@dataclass(frozen=True)
class Settle:
    """Settle a market context's settlement intervals inside a window."""

    market_context: str
    window: Interval


@dataclass(frozen=True)
class Settled:
    """What a run did: its ID, the intervals it covered (those whose price was final), the
    imbalance transactions it made (transactionID, imbalance), what it left and why."""

    run_id: str
    intervals: tuple[Interval, ...]
    transactions: tuple[tuple[str, Imbalance], ...]
    unsettled: tuple[Unsettled, ...]
    balanced: int
    pending: int  # intervals in the window whose price is not final yet (end + grace after now)
