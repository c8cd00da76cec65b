"""Tenders, quotes and their acceptance: the TeMIX rules, as plain Python.

A tender is an actionable offer by one party to buy or sell energy (or transport) at a
constant rate over one delivery interval, at one price. Accepting it makes a transaction
in which the acceptor takes the opposite side, for all of the tendered rate or a part of
it (all of it if the tender is integral-only). A quote looks the same but is not actionable.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING

from service.domain.errors import (
    InvalidValueError,
    NotActionableError,
    NotPermittedError,
    NotStandingError,
    QuantityUnavailableError,
    TermsMismatchError,
)
from service.domain.intervals import Interval

if TYPE_CHECKING:
    from service.domain.options import OptionTerms


class Side(str, Enum):
    BUY = "buy"
    SELL = "sell"

    @property
    def opposite(self) -> "Side":
        return Side.SELL if self is Side.BUY else Side.BUY

    @property
    def sign(self) -> int:
        """Positions count sells less buys."""
        return 1 if self is Side.SELL else -1


class ProductKind(str, Enum):
    ENERGY = "energy"
    TRANSPORT = "transport"


@dataclass(frozen=True)
class Interface:
    """One node for energy; a point of receipt and a point of delivery for transport."""

    delivery_node: str
    receipt_node: str | None = None

    def __post_init__(self):
        if not self.delivery_node.strip():
            raise InvalidValueError("The interface names no node")
        if self.receipt_node is not None and self.receipt_node == self.delivery_node:
            raise InvalidValueError(
                f"A transport interface needs two different nodes, got {self.delivery_node!r} twice"
            )

    @property
    def kind(self) -> ProductKind:
        return ProductKind.ENERGY if self.receipt_node is None else ProductKind.TRANSPORT


@dataclass(frozen=True)
class Terms:
    """What a tender offers (or a transaction agrees), normalised: kW and currency per kWh."""

    side: Side
    interface: Interface
    market_context: str
    interval: Interval
    price_per_kwh: Decimal
    quantity_kw: Decimal
    currency: str | None = None

    def __post_init__(self):
        if not self.quantity_kw > 0:
            raise InvalidValueError(f"The quantity must be a positive rate, got {self.quantity_kw}")
        if not self.price_per_kwh.is_finite():
            raise InvalidValueError(f"The price must be a finite number, got {self.price_per_kwh}")

    @property
    def kind(self) -> ProductKind:
        return self.interface.kind


@dataclass(frozen=True)
class Tender:
    """A stored tender and its state."""

    party_id: str
    tender_id: str
    terms: Terms
    remaining_kw: Decimal
    is_quote: bool = False
    integral_only: bool = False
    expires_at: datetime | None = None
    cancelled: bool = False
    counterparty_id: str | None = None  # None: distributed to a market context's parties
    option: "OptionTerms | None" = None  # an option tender: terms.price_per_kwh is its premium

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def has_closed(self, now: datetime) -> bool:
        """Trading closes when delivery starts: nobody buys an hour that has begun."""
        return now >= self.terms.interval.start

    def check_standing(self, now: datetime) -> None:
        if self.cancelled:
            raise NotStandingError(f"Tender {self.tender_id!r} was cancelled")
        if self.is_expired(now):
            raise NotStandingError(
                f"Tender {self.tender_id!r} expired at {self.expires_at.isoformat()}"
            )
        if self.has_closed(now):
            raise NotStandingError(
                f"Tender {self.tender_id!r} closed when its delivery started at "
                f"{self.terms.interval.start.isoformat()}"
            )
        if self.remaining_kw <= 0:
            raise NotStandingError(f"Tender {self.tender_id!r} is fully accepted")


def check_cancellable(tender: Tender, party_id: str, now: datetime) -> None:
    """A party withdraws only its own standing tenders."""
    if tender.party_id != party_id:
        raise NotPermittedError(f"Tender {tender.tender_id!r} is not yours to cancel")
    tender.check_standing(now)


def check_acceptance(
    tender: Tender,
    acceptor_id: str,
    may_see: bool,
    terms: Terms,
    now: datetime,
    option: "OptionTerms | None" = None,
) -> None:
    """Raise the first TeMIX rule that accepting ``tender`` on ``terms`` would break.

    ``may_see`` says whether the tender is addressed (or distributed) to the acceptor.
    """
    if tender.party_id == acceptor_id:
        raise NotPermittedError(f"Tender {tender.tender_id!r} is your own")
    if not may_see:
        raise NotPermittedError(f"Tender {tender.tender_id!r} is not addressed to you")
    if tender.is_quote:
        raise NotActionableError(f"{tender.tender_id!r} is a quote (indication), not a tender")
    tender.check_standing(now)
    if (option is None) != (tender.option is None):
        raise TermsMismatchError(
            f"Tender {tender.tender_id!r} is {'an option' if tender.option else 'not an option'}: "
            "accept it with the same kind of product"
        )
    if option is not None:
        option.check_matches(tender.option)
    offered = tender.terms
    if terms.side != offered.side.opposite:
        raise TermsMismatchError(
            f"Accepting a {offered.side.value} tender means taking side "
            f"{offered.side.opposite.value}, not {terms.side.value}"
        )
    for name, want, got in (
        ("interface", offered.interface, terms.interface),
        ("marketContext", offered.market_context, terms.market_context),
        ("interval", offered.interval, terms.interval),
        ("price", offered.price_per_kwh, terms.price_per_kwh),
    ):
        if want != got:
            raise TermsMismatchError(f"The {name} differs from the tender's: {got} != {want}")
    if offered.currency and terms.currency and offered.currency != terms.currency:
        raise TermsMismatchError(
            f"The currency differs from the tender's: {terms.currency} != {offered.currency}"
        )
    check_quantity(tender, terms.quantity_kw)


def check_quantity(tender: Tender, quantity_kw: Decimal) -> None:
    if quantity_kw > tender.remaining_kw:
        raise QuantityUnavailableError(
            f"{quantity_kw} kW asked of tender {tender.tender_id!r}, "
            f"only {tender.remaining_kw} kW remain"
        )
    if tender.integral_only and quantity_kw != tender.terms.quantity_kw:
        raise QuantityUnavailableError(
            f"Tender {tender.tender_id!r} is integral-only: all "
            f"{tender.terms.quantity_kw} kW or nothing"
        )
