"""An exchange's order book: continuous matching with price-time priority, as plain Python.

A market context may run an exchange, a party of its own (``exchange_id``). A tender
addressed to it enters the order book of its product (``BookKey``) and is matched at once
against the other side's resting orders:

- priority: best price first (the lowest sell, the highest buy), then the earliest;
- an incoming order crosses a resting one when a buy's price is at or above the sell's; it
  trades at the resting order's price;
- partial fills: each fill takes what both still have, the incoming order's rest rests;
- integral-only: a resting integral-only order is taken whole or skipped (an incoming order
  with less left than it skips it); an incoming integral-only order is filled only if the
  orders it crosses fill it entirely, else none of them is touched and it rests whole;
- self-trade prevention: a party's order skips the party's own resting orders;
- quotes, expired and cancelled orders, and books whose delivery has started never match.

The exchange is the counterparty of every fill: each side trades with it, never with the
other party, so the exchange's position is flat in every interval.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from service.domain.tenders import Side, Terms
from service.domain.units import DECIMAL_CONTEXT

EXCHANGE_SUFFIX = "#exchange"


def exchange_id(market_context: str) -> str:
    """The reserved party ID of a market context's exchange: its URI and '#exchange'."""
    return market_context + EXCHANGE_SUFFIX


def exchange_market(party_id: str | None) -> str | None:
    """The market context whose exchange this party ID names, or None."""
    if party_id is None or not party_id.endswith(EXCHANGE_SUFFIX):
        return None
    return party_id.removesuffix(EXCHANGE_SUFFIX) or None


@dataclass(frozen=True, order=True)
class BookKey:
    """What makes two orders the same product: they can only meet in the same book."""

    market_context: str
    product_kind: str
    receipt_node: str  # '' for a one-node interface
    delivery_node: str
    start: datetime
    end: datetime
    currency: str  # '' when the product names none

    @classmethod
    def of(cls, terms: Terms) -> BookKey:
        return cls(
            terms.market_context,
            terms.kind.value,
            terms.interface.receipt_node or "",
            terms.interface.delivery_node,
            terms.interval.start,
            terms.interval.end,
            terms.currency or "",
        )


@dataclass(frozen=True)
class Order:
    """An order in a book. ``ref`` orders arrivals: a later order has a larger one."""

    ref: int
    party_id: str
    side: Side
    price_per_kwh: Decimal
    remaining_kw: Decimal
    integral_only: bool = False

    @property
    def priority(self) -> tuple[Decimal, int]:
        """Sorts a side's orders best first: lowest sell or highest buy, then earliest."""
        return (self.price_per_kwh if self.side is Side.SELL else -self.price_per_kwh, self.ref)

    def crosses(self, resting: Order) -> bool:
        if self.side is Side.BUY:
            return self.price_per_kwh >= resting.price_per_kwh
        return self.price_per_kwh <= resting.price_per_kwh


@dataclass(frozen=True)
class Fill:
    """What an incoming order took of one resting order, at the resting order's price."""

    resting: Order
    quantity_kw: Decimal

    @property
    def price_per_kwh(self) -> Decimal:
        return self.resting.price_per_kwh


def match(incoming: Order, resting: Iterable[Order]) -> list[Fill]:
    """The fills of ``incoming`` against ``resting``: the other side's orders in priority
    order (``Order.priority``). Reads ``resting`` only as far as it needs (a lazy source may
    fetch it in pages); stops at the first order that does not cross."""
    left = incoming.remaining_kw
    fills = []
    for order in resting:
        if left <= 0 or not incoming.crosses(order):
            break
        if order.party_id == incoming.party_id or order.remaining_kw <= 0:
            continue  # self-trade prevention: a party's orders never meet
        if order.integral_only and order.remaining_kw > left:
            continue  # taken whole or not at all
        taken = min(left, order.remaining_kw)
        fills.append(Fill(order, taken))
        left = DECIMAL_CONTEXT.subtract(left, taken)
    if incoming.integral_only and left > 0:
        return []  # all or nothing: it rests whole
    return fills


def filled_kw(fills: Iterable[Fill]) -> Decimal:
    total = Decimal(0)
    for fill in fills:
        total = DECIMAL_CONTEXT.add(total, fill.quantity_kw)
    return total


@dataclass(frozen=True)
class Entered:
    """What happened at once to one tender sent to an exchange."""

    tender_id: str
    quantity_kw: Decimal
    filled_kw: Decimal
    fills: int
    quote: bool = False

    def describe(self) -> str:
        if self.quote:
            return f"{self.tender_id} is a quote (never matched)"
        return f"{self.tender_id} {_plain(self.filled_kw)} of {_plain(self.quantity_kw)} kW filled in {self.fills} fill(s)"


def describe_entered(entered: Iterable[Entered]) -> str:
    """The response description of an EiCreateTender to an exchange: per tender, what filled
    at once (the rest rests in the book)."""
    return "OK; filled at once: " + "; ".join(item.describe() for item in entered)


@dataclass(frozen=True)
class PriceLevel:
    """The resting orders of one side of a book at one price, as parties see them: no names."""

    price_per_kwh: Decimal
    rate_kw: Decimal  # their remaining rates, summed
    orders: int


@dataclass(frozen=True)
class BookDepth:
    """A book's best price levels: bids (buys) highest first, offers (sells) lowest first."""

    key: BookKey
    bids: tuple[PriceLevel, ...] = ()
    offers: tuple[PriceLevel, ...] = ()


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")
