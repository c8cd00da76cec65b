"""Market contexts: the rules a tender's market context brings with it.

Calendar durations (P1D, P1M) are resolved on the market context's wall clock, so on a
short daylight-saving day a 1 kW day transaction delivers 23 kWh. A price sent without an
energy unit (no power:energyReal) is per the market context's energy unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from service.domain.deliveries import settlement_step
from service.domain.errors import InvalidValueError
from service.domain.intervals import parse_duration
from service.domain.matching import exchange_id

ENERGY_UNITS = {"Wh": "none", "kWh": "k", "MWh": "M", "GWh": "G"}


@dataclass(frozen=True)
class MarketContext:
    uri: str
    timezone: str = "UTC"
    currency: str | None = None
    energy_unit: str = "kWh"
    option_lead_time: str = "PT1H"
    option_granularity: str = "PT1H"
    exchange: bool = False  # runs an exchange: see service.domain.matching
    settlement_interval: str = "PT1H"  # meter readings and settlement: see service.domain.deliveries

    def __post_init__(self):
        if not self.uri.strip():
            raise InvalidValueError("A market context needs a URI")
        zone(self.timezone)
        if self.energy_unit not in ENERGY_UNITS:
            raise InvalidValueError(
                f"Unknown energy unit {self.energy_unit!r}: one of {', '.join(ENERGY_UNITS)}"
            )
        exact_duration(self.option_lead_time, allow_zero=True)
        exact_duration(self.option_granularity)
        settlement_step(self.settlement_interval)
        if self.currency is not None and (len(self.currency) != 3 or not self.currency.isalpha()):
            raise InvalidValueError(f"A currency is an ISO 4217 code like USD, not {self.currency!r}")

    @property
    def tz(self) -> ZoneInfo:
        return zone(self.timezone)

    @property
    def settlement_step(self) -> timedelta:
        """The elapsed length of its settlement intervals (the last of a short day is cut)."""
        return settlement_step(self.settlement_interval)

    @property
    def lead_time(self) -> timedelta:
        """How long before a sub-interval starts an option on it may be exercised at the latest."""
        return exact_duration(self.option_lead_time, allow_zero=True)

    @property
    def granularity(self) -> timedelta:
        """The step of option exercise sub-intervals, from the option's start."""
        return exact_duration(self.option_granularity)

    @property
    def publisher_id(self) -> str:
        """The party ID under which the market context itself publishes (trade prices): its URI.
        The same ID as a quote's subscriber addresses every party enrolled in the market context."""
        return self.uri

    @property
    def publishes_prices(self) -> bool:
        """Whether the service publishes the market context's trade prices: it does for every
        market context (as quotes from ``publisher_id``)."""
        return True

    @property
    def exchange_id(self) -> str:
        """The reserved party ID of its exchange (the counterparty of every fill): the URI and
        '#exchange'. Not the publisher_id: the exchange is a party that trades."""
        return exchange_id(self.uri)

    @property
    def energy_scale(self) -> str:
        """The siScaleCode of the energy unit prices are quoted in by default."""
        return ENERGY_UNITS[self.energy_unit]


def exact_duration(text: str, allow_zero: bool = False) -> timedelta:
    """An ISO 8601 duration without calendar parts (PT1H, PT15M, PT0S when allowed)."""
    if allow_zero and text.strip() in ("PT0S", "PT0M", "PT0H"):
        return timedelta(0)
    duration = parse_duration(text)
    if duration.is_calendar:
        raise InvalidValueError(f"{text!r} must be an exact duration (hours, minutes, seconds)")
    return duration.exact


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidValueError(f"Unknown time zone {name!r} (an IANA name like Europe/Berlin)") from None
