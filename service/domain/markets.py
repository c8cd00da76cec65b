"""Market contexts: the rules a tender's market context brings with it.

Calendar durations (P1D, P1M) are resolved on the market context's wall clock, so on a
short daylight-saving day a 1 kW day transaction delivers 23 kWh. A price sent without an
energy unit (no power:energyReal) is per the market context's energy unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from service.domain.errors import InvalidValueError

ENERGY_UNITS = {"Wh": "none", "kWh": "k", "MWh": "M", "GWh": "G"}


@dataclass(frozen=True)
class MarketContext:
    uri: str
    timezone: str = "UTC"
    currency: str | None = None
    energy_unit: str = "kWh"

    def __post_init__(self):
        if not self.uri.strip():
            raise InvalidValueError("A market context needs a URI")
        zone(self.timezone)
        if self.energy_unit not in ENERGY_UNITS:
            raise InvalidValueError(
                f"Unknown energy unit {self.energy_unit!r}: one of {', '.join(ENERGY_UNITS)}"
            )
        if self.currency is not None and (len(self.currency) != 3 or not self.currency.isalpha()):
            raise InvalidValueError(f"A currency is an ISO 4217 code like USD, not {self.currency!r}")

    @property
    def tz(self) -> ZoneInfo:
        return zone(self.timezone)

    @property
    def energy_scale(self) -> str:
        """The siScaleCode of the energy unit prices are quoted in by default."""
        return ENERGY_UNITS[self.energy_unit]


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidValueError(f"Unknown time zone {name!r} (an IANA name like Europe/Berlin)") from None
