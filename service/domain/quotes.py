"""Quotes and published trade prices: the TeMIX rules, as plain Python.

A quote (EiQuote) is an indication of a price, never actionable: a publisher posts one or
more products (the shapes of tenders) to one party or to a whole market context. Published
trade prices are quotes the market context itself publishes (under its URI, ``publisher_id``):
per market context, product kind, interface, delivery interval and currency, the last traded
price, the volume-weighted average price (VWAP) and the traded energy of every transaction
and exercise, without the counterparties' names.

The store keeps per key the running sums (energy, value = price x energy) and the last price;
``fold`` is what its upsert does, so tests can check the one against the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, localcontext

from service.domain.commands import DistributionScope, Narrowing
from service.domain.errors import InvalidValueError
from service.domain.intervals import Interval
from service.domain.products import QUOTE_STATE, Product
from service.domain.tenders import Terms
from service.domain.units import DECIMAL_CONTEXT, energy_kwh, extended_price, plain

PUBLICATION = "publication"
QUOTE_STATES = (PUBLICATION, QUOTE_STATE)
TRADE_PREFIX = "trade-"  # the quoteID of a published trade price: trade-<its number>
# Sums of exact decimals are kept exact, as NUMERIC keeps them (no rounding at 50 digits).
_EXACT = DECIMAL_CONTEXT.copy()
_EXACT.prec = 100_000


# ---------------------------------------------------------------- quotes


@dataclass(frozen=True)
class Quote:
    """One ei:eiQuote of a request: its products, and their stored forms (one per product)."""

    quote_id: str
    products: tuple[Product, ...]
    stored_forms: tuple[bytes, ...]

    @property
    def market_context(self) -> str:
        return self.products[0].terms.market_context

    @property
    def span(self) -> Interval:
        """From the first product's start to the last one's end: what interval filters match."""
        return Interval(
            min(p.terms.interval.start for p in self.products), max(p.terms.interval.end for p in self.products)
        )

    @property
    def expires_at(self) -> datetime | None:
        """The earliest expirationDate of its products: the quote stands until then."""
        dates = [p.expires_at for p in self.products if p.expires_at is not None]
        return min(dates) if dates else None


def check_quote(quote: Quote, now: datetime) -> None:
    """Products in state publication or indicationOfInterest, one market context, not expired."""
    for product in quote.products:
        if product.transactive_state not in QUOTE_STATES:
            raise InvalidValueError(
                f"transactiveState of quote {quote.quote_id!r} must be one of {QUOTE_STATES}, "
                f"not {product.transactive_state!r}"
            )
        if product.terms.market_context != quote.market_context:
            raise InvalidValueError(
                f"The products of quote {quote.quote_id!r} are in more than one market context: "
                f"{quote.market_context!r} and {product.terms.market_context!r}"
            )
    expires_at = quote.expires_at
    if expires_at is not None and expires_at <= now:
        raise InvalidValueError(f"Quote {quote.quote_id!r} expires at {expires_at.isoformat()}, before the server time")


def check_subscriber(subscriber_id: str, publisher_id: str, quotes: tuple[Quote, ...], scoped: bool) -> bool:
    """Whether the quotes are addressed to a whole market context (the subscriber is its URI)
    rather than to one party. A market-wide quote is for products of that market context; a
    distribution scope narrows market-wide quotes only; nobody quotes to itself."""
    market_wide = any(quote.market_context == subscriber_id for quote in quotes)
    if market_wide:
        for quote in quotes:
            if quote.market_context != subscriber_id:
                raise InvalidValueError(
                    f"Quote {quote.quote_id!r} is for market context {quote.market_context!r}, "
                    f"but is addressed to market context {subscriber_id!r}"
                )
    elif scoped:
        raise InvalidValueError(
            "temix:distributionScope narrows a quote addressed to a market context, "
            f"not one addressed to party {subscriber_id!r}"
        )
    elif subscriber_id == publisher_id:
        raise InvalidValueError("subscriberPartyID names yourself: a quote is addressed to another party")
    return market_wide


# ---------------------------------------------------------------- published trade prices


@dataclass(frozen=True, order=True)
class TradeKey:
    """What a published trade price is per: '' for a one-node interface's receipt node and
    for a market context without a currency, so the key has no NULLs."""

    market_context: str
    product_kind: str
    receipt_node: str
    delivery_node: str
    start: datetime
    end: datetime
    currency: str


@dataclass(frozen=True)
class Traded:
    """What trades add to one key: energy (kWh), value (price x energy), how many, and the
    price of the last of them."""

    last_price_per_kwh: Decimal
    energy_kwh: Decimal
    value: Decimal
    trades: int = 1

    @property
    def vwap(self) -> Decimal:
        """The volume-weighted average price: value / energy (rounded to 50 digits only where
        a decimal cannot write it)."""
        with localcontext(DECIMAL_CONTEXT):
            return plain(self.value / self.energy_kwh)


def trade_of(terms: Terms) -> tuple[TradeKey, Traded]:
    """One transaction (or exercise) as a trade: its key, energy, value and price."""
    interval = terms.interval
    key = TradeKey(
        terms.market_context,
        terms.kind.value,
        terms.interface.receipt_node or "",
        terms.interface.delivery_node,
        interval.start,
        interval.end,
        terms.currency or "",
    )
    energy = energy_kwh(terms.quantity_kw, interval)
    return key, Traded(terms.price_per_kwh, energy, extended_price(terms.price_per_kwh, energy))


def fold(prior: Traded | None, later: Traded) -> Traded:
    """``prior`` with ``later`` trades after it: sums added exactly, the later last price."""
    if prior is None:
        return later
    with localcontext(_EXACT):
        return Traded(
            later.last_price_per_kwh, prior.energy_kwh + later.energy_kwh, prior.value + later.value,
            prior.trades + later.trades,
        )


def published(trades: list[Terms]) -> list[tuple[TradeKey, Traded]]:
    """A request's trades, in the order made, as one update per key, by key (the order the
    store writes them in, so concurrent requests lock keys in one order)."""
    found: dict[TradeKey, Traded] = {}
    for terms in trades:
        key, traded = trade_of(terms)
        found[key] = fold(found.get(key), traded)
    return sorted(found.items())


@dataclass(frozen=True)
class TradePrice:
    """A published trade price as listed: ``quote_id`` is ``trade-<number>``."""

    quote_id: str
    key: TradeKey
    traded: Traded


def trade_number(quote_id: str) -> int | None:
    """The number in a published trade price's quoteID, None if it is not one."""
    digits = quote_id.removeprefix(TRADE_PREFIX)
    if digits == quote_id or not digits.isascii() or not digits.isdigit() or len(digits) > 18:
        return None
    return int(digits)


# ---------------------------------------------------------------- commands and results


@dataclass(frozen=True)
class CreateQuote:
    subscriber_id: str  # a party, or a market context's URI: every party enrolled in it
    quotes: tuple[Quote, ...]
    scope: DistributionScope = DistributionScope()


@dataclass(frozen=True)
class CreatedQuote:
    quote_ids: tuple[str, ...]


@dataclass(frozen=True)
class CancelQuote:
    quote_ids: tuple[str, ...]
    subscriber_id: str | None = None  # if named, each quote must be addressed to it


@dataclass(frozen=True)
class CanceledQuote:
    pass


@dataclass(frozen=True)
class RequestQuote:
    publisher_id: str  # a party, or a market context's URI for its published trade prices
    narrowing: Narrowing


@dataclass(frozen=True)
class ShownQuote:
    """A standing quote as listed: its products as stored (each serialised, one after another)."""

    quote_id: str
    stored_form: bytes


@dataclass(frozen=True)
class QuoteList:
    quotes: tuple[ShownQuote | TradePrice, ...]
    description: str = "OK"
