"""Metered delivery: the energy a party actually injected or withdrew at an interface, per
settlement interval of its market context.

A reading covers exactly one settlement interval. Intervals are laid out from local midnight
on the market context's calendar, each ``settlement_interval`` of elapsed time long, the last
one of the day cut at the next local midnight; so a daylight-saving day in Europe has 92 or
100 quarter hours, and a 23-hour day of PT2H intervals ends with a one-hour interval.

Net delivered energy for a key is injection less withdrawal: injection positive, withdrawal
negative (the sign of a sell in a position).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from service.domain.errors import InvalidValueError
from service.domain.intervals import exact_duration_text, parse_duration, to_utc
from service.domain.limits import check_amount

DAY = timedelta(days=1)
MINIMUM_SETTLEMENT_INTERVAL = timedelta(minutes=1)


def settlement_step(text: str) -> timedelta:
    """The elapsed length of a settlement interval (PT5M, PT15M, PT1H, ...): exact, at least a
    minute, whole seconds, and dividing a day so that every day starts a new interval."""
    duration = parse_duration(text)
    if duration.is_calendar:
        raise InvalidValueError(f"A settlement interval is hours, minutes or seconds, not {text!r}")
    step = duration.exact
    if step < MINIMUM_SETTLEMENT_INTERVAL or step > DAY:
        raise InvalidValueError(f"A settlement interval is between PT1M and PT24H, not {text!r}")
    if step % timedelta(seconds=1) or DAY % step:
        raise InvalidValueError(f"A settlement interval must divide a day (PT5M, PT15M, PT1H...), not {text!r}")
    return step


def _local_midnights(instant: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants of the local midnights around ``instant`` (its day's, and the next)."""
    day = instant.astimezone(tz).date()
    midnight = datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
    following = datetime.combine(day + DAY, time(0), tzinfo=tz).astimezone(UTC)
    return midnight, following


def settlement_end(start: datetime, step: timedelta, tz: ZoneInfo) -> datetime:
    """The end of the settlement interval beginning at ``start``; refused if no settlement
    interval of the calendar begins there."""
    start = to_utc(start, "interval start")
    midnight, following = _local_midnights(start, tz)
    if (start - midnight) % step:
        raise InvalidValueError(
            f"{start.isoformat()} does not begin a settlement interval of {exact_duration_text(step)} on the {tz.key} calendar"
        )
    return min(start + step, following)


def settlement_intervals(start: datetime, end: datetime, step: timedelta, tz: ZoneInfo) -> list[tuple[datetime, datetime]]:
    """The settlement intervals from ``start`` (an interval's start) up to ``end``."""
    found = []
    while start < end:
        following = settlement_end(start, step, tz)
        found.append((start, following))
        start = following
    return found


@dataclass(frozen=True)
class MeterReading:
    """Energy in kWh (exact) metered at an interface over one settlement interval, in one
    direction: ``injection`` True for energy the party delivered to the grid."""

    party_id: str
    market_context: str
    interface: str
    start: datetime
    end: datetime
    injection: bool
    energy_kwh: Decimal

    @property
    def key(self) -> tuple:
        """What a later reading replaces: one value per party, market context, interface,
        interval and direction."""
        return (self.party_id, self.market_context, self.interface, self.start, self.injection)

    @property
    def net_kwh(self) -> Decimal:
        return self.energy_kwh if self.injection else -self.energy_kwh


def energy(text: str) -> Decimal:
    """A kWh figure: a finite decimal, zero or more."""
    try:
        value = Decimal(text.strip())
    except (InvalidOperation, AttributeError):
        raise InvalidValueError(f"{text!r} is not a decimal number of kWh") from None
    if not value.is_finite():
        raise InvalidValueError(f"{text!r} is not a decimal number of kWh")
    if value < 0:
        raise InvalidValueError(f"Energy cannot be negative ({text}): report withdrawal with injection false")
    return value


def check_reading(reading: MeterReading, step: timedelta, tz: ZoneInfo) -> MeterReading:
    """The reading with UTC instants, if it covers exactly one settlement interval and its
    energy is at least zero and within the amount bounds (``limits``: what a NUMERIC holds)."""
    for name in ("party_id", "market_context", "interface"):
        if not getattr(reading, name).strip():
            raise InvalidValueError(f"A meter reading needs a {name.replace('_', ' ')}")
    start, end = to_utc(reading.start, "interval start"), to_utc(reading.end, "interval end")
    expected = settlement_end(start, step, tz)
    if end != expected:
        raise InvalidValueError(
            f"The interval {start.isoformat()} to {end.isoformat()} is not one settlement interval"
            f" ({exact_duration_text(step)}: it ends at {expected.isoformat()})"
        )
    if not isinstance(reading.energy_kwh, Decimal) or not reading.energy_kwh.is_finite() or reading.energy_kwh < 0:
        raise InvalidValueError(f"Energy must be zero or more kWh, not {reading.energy_kwh}")
    check_amount(reading.energy_kwh, "energy in kWh")
    return MeterReading(reading.party_id, reading.market_context, reading.interface, start, end,
                        reading.injection, reading.energy_kwh)


def repeated_keys(readings: Iterable[MeterReading]) -> list[tuple]:
    """Keys given more than once: within one report or file they are ambiguous."""
    seen, repeated = set(), []
    for reading in readings:
        if reading.key in seen:
            repeated.append(reading.key)
        seen.add(reading.key)
    return repeated


@dataclass(frozen=True)
class RecordCounts:
    """What recording readings did: new keys, corrected values (history kept), and readings
    identical to the stored ones (nothing changed)."""

    new: int = 0
    corrected: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        return self.new + self.corrected + self.unchanged


# ---------------------------------------------------------------- commands and results


@dataclass(frozen=True)
class ReportDelivery:
    """temix:eiReportDelivery: readings a metering party reports, recorded all or none."""

    readings: tuple[MeterReading, ...]


@dataclass(frozen=True)
class ReportedDelivery:
    counts: RecordCounts


@dataclass(frozen=True)
class DeliveryAsked:
    """One "empty" emix:delivery of EiCreateDelivery: which metered energy is asked for.
    ``uid`` is the requestor's emix:uid, echoed."""

    uid: str
    market_context: str
    interface: str
    start: datetime
    end: datetime
    injection: bool


@dataclass(frozen=True)
class CreateDelivery:
    asked: tuple[DeliveryAsked, ...]


@dataclass(frozen=True)
class MeteredDelivery:
    """A delivery asked for, with its ID and the metered energy: None until every settlement
    interval in it has a reading."""

    asked: DeliveryAsked
    delivery_id: str
    energy_kwh: Decimal | None


@dataclass(frozen=True)
class CreatedDelivery:
    deliveries: tuple[MeteredDelivery, ...]
    created_at: datetime
