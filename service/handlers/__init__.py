"""The operations' business code: ``handle(command, uow, ctx) -> result``, one per operation.

One module per group of EI operations (tenders, transactions, positions, options,
registrations). A handler
asks the domain, reads and writes through the unit of work's repositories, and returns a
result; it knows no XML and no SQL. A refused request raises a TemixError, which the pipeline
(``service.pipeline``) turns into the operation's reply with the error's response code, after
undoing its writes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from service.domain.intervals import Interval
from service.domain.markets import MarketContext
from service.domain.tenders import Side


class ProductForms(Protocol):
    """Stored forms the handlers need made, by the wire layer that owns the format."""

    def exercised(self, option_form: bytes, interval: Interval, quantity_text: str, side: Side, uid: str) -> bytes:
        """The stored form of the product an exercise of this option makes."""
        ...

    def filled(self, order_form: bytes, rate_scale: str, quantity_kw: Decimal, price_per_kwh: Decimal, side: Side,
               energy_scale: str) -> bytes:
        """The stored form of the product a fill of this order makes (its transaction)."""
        ...


class NewCredentials(Protocol):
    """How a registrar's initial password for a new party is stored (``service.auth``)."""

    def stored(self, password: str, text_only: bool) -> tuple[str, bytes | None]:
        """``(password_hash, digest_secret)``, as ``temix party add`` stores them."""
        ...


@dataclass(frozen=True)
class Context:
    """Who asks, under which requestID, at what server time; what every handler may use."""

    party_id: str
    request_id: str
    now: datetime
    market_of: Callable[[str], MarketContext]  # raises UnknownMarketContextError
    max_items: int
    forms: ProductForms
    # set only when the server lets registrars create parties' passwords
    # (TEMIX_ALLOW_REGISTRAR_PASSWORDS); None refuses them
    credentials: NewCredentials | None = None
