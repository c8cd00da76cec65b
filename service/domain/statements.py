"""A party's statement: per market context and currency, what its transactions in a window
come to, by kind. Plain Python.

Each transaction counts for the part of its delivery interval inside the window, as a
position does: energy = rate x hours inside the window (sells positive, buys negative) and
value = energy x price (revenue less cost). So forward + exercises + imbalance is exactly the
value EiRequestPosition reports over the window. Option premiums move no energy and are no
part of a position's value: they are shown beside it (written options positive, bought
negative, prorated to the window as well), and the total includes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, localcontext

from service.domain.intervals import Interval
from service.domain.tenders import Side
from service.domain.units import DECIMAL_CONTEXT, energy_kwh, plain

FORWARD, PREMIUM, EXERCISE, IMBALANCE = "forward", "premium", "exercise", "imbalance"
KINDS = (FORWARD, PREMIUM, EXERCISE, IMBALANCE)


@dataclass(frozen=True)
class Deal:
    """One transaction as the party sees it."""

    market_context: str
    currency: str  # '' for none
    kind: str
    side: Side  # the party's
    interval: Interval
    rate_kw: Decimal
    price_per_kwh: Decimal


@dataclass
class Line:
    energy_kwh: Decimal = Decimal(0)
    value: Decimal = Decimal(0)
    count: int = 0


@dataclass
class Account:
    """One market context and currency of a statement."""

    market_context: str
    currency: str
    lines: dict[str, Line] = field(default_factory=lambda: {kind: Line() for kind in KINDS})

    @property
    def position_value(self) -> Decimal:
        """What EiRequestPosition's values sum to over the window."""
        return plain(sum((self.lines[k].value for k in (FORWARD, EXERCISE, IMBALANCE)), Decimal(0)))

    @property
    def position_energy(self) -> Decimal:
        return plain(sum((self.lines[k].energy_kwh for k in (FORWARD, EXERCISE, IMBALANCE)), Decimal(0)))

    @property
    def total_value(self) -> Decimal:
        return plain(self.position_value + self.lines[PREMIUM].value)


def accounts(deals, window: Interval) -> list[Account]:
    """The deals summed per market context and currency, in that order."""
    found: dict[tuple[str, str], Account] = {}
    with localcontext(DECIMAL_CONTEXT):
        for deal in deals:
            start, end = max(deal.interval.start, window.start), min(deal.interval.end, window.end)
            if start >= end:
                continue
            energy = deal.side.sign * energy_kwh(deal.rate_kw, Interval.trusted(start, end))
            account = found.setdefault((deal.market_context, deal.currency), Account(deal.market_context, deal.currency))
            line = account.lines[deal.kind]
            if deal.kind != PREMIUM:  # an option moves no energy until exercised
                line.energy_kwh = plain(line.energy_kwh + energy)
            line.value = plain(line.value + energy * deal.price_per_kwh)
            line.count += 1
    return [found[key] for key in sorted(found)]


@dataclass(frozen=True)
class IntervalFigures:
    """One settlement interval of a plotted statement: the forward position and delivery (kWh),
    the imbalance settled and the real-time price (None where nothing was settled)."""

    interval: Interval
    position_kwh: Decimal
    delivered_kwh: Decimal | None
    imbalance_kwh: Decimal
    price_per_kwh: Decimal | None

