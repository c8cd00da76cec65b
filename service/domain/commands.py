"""Each operation's input (a command) and output (a result), as plain values.

Readers in ``service.soap`` build commands from payloads, handlers turn them into results,
writers in ``service.soap`` render results. A product travels twice: as a domain value (what
the rules read) and as its stored form (bytes the store keeps and list replies give back).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from service.domain.errors import InvalidValueError
from service.domain.intervals import Interval
from service.domain.markets import MarketContext
from service.domain.matching import BookDepth
from service.domain.positions import PositionKey, PositionStep
from service.domain.products import Product
from service.domain.registrations import InitialPassword, Memberships, Registration
from service.domain.tenders import Side


@dataclass(frozen=True)
class Narrowing:
    """The filters of a list request; empty fields narrow nothing. ``ids`` are tenderIDs or
    transactionIDs, ``intervals`` delivery windows a listed item overlaps."""

    counterparty_ids: tuple[str, ...] = ()
    market_contexts: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()
    intervals: tuple[Interval, ...] = ()


@dataclass(frozen=True)
class DistributionScope:
    """Whom a distribution reaches among a market context's parties: names as sent (trimmed,
    duplicates dropped); empty tuples narrow nothing."""

    groups: tuple[str, ...] = ()
    service_areas: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.groups or self.service_areas)

    @property
    def within(self) -> str:
        """' within groups a, b and service areas c' (for messages), '' for the empty scope."""
        named = [
            f"{what} {', '.join(names)}"
            for what, names in (("groups", self.groups), ("service areas", self.service_areas))
            if names
        ]
        return f" within {' and '.join(named)}" if named else ""

    def check(self) -> None:
        """An empty name is schema-valid but names nobody: refused (400), not silently matched."""
        for what, names in (("group", self.groups), ("serviceArea", self.service_areas)):
            if "" in names:
                raise InvalidValueError(f"temix:distributionScope has an empty temix:{what}")


def ok_description(found: int, limit: int) -> str:
    return f"OK: the first {limit} matches (more exist; narrow the request)" if found > limit else "OK"


# ---------------------------------------------------------------- tenders


@dataclass(frozen=True)
class Offer:
    """One tender of a request."""

    tender_id: str
    product: Product
    stored_form: bytes


@dataclass(frozen=True)
class CreateTender:
    counterparty_id: str | None
    offers: tuple[Offer, ...]


@dataclass(frozen=True)
class CreatedTender:
    tender_ids: tuple[str, ...]
    description: str = "OK"  # to an exchange: what filled at once


@dataclass(frozen=True)
class DistributeTender:
    offers: tuple[Offer, ...]
    scope: DistributionScope = DistributionScope()


@dataclass(frozen=True)
class DistributedTender:
    recipient_count: int
    tender_ids: tuple[str, ...]


@dataclass(frozen=True)
class CancelTender:
    tender_ids: tuple[str, ...]


@dataclass(frozen=True)
class CanceledTender:
    pass


@dataclass(frozen=True)
class RequestTender:
    narrowing: Narrowing


@dataclass(frozen=True)
class ShownTender:
    """A standing tender as listed: its stored product, shown with the remaining rate."""

    tender_id: str
    remaining_kw: Decimal
    rate_scale: str
    stored_form: bytes


@dataclass(frozen=True)
class TenderList:
    tenders: tuple[ShownTender, ...]
    description: str = "OK"


# ---------------------------------------------------------------- transactions


@dataclass(frozen=True)
class Acceptance:
    """One transaction of a request: the acceptor's product for (part of) a tender."""

    transaction_id: str
    tender_id: str
    product: Product
    stored_form: bytes


@dataclass(frozen=True)
class CreateTransaction:
    maker_id: str | None  # counterPartyID: the tenders' party
    acceptances: tuple[Acceptance, ...]


@dataclass(frozen=True)
class CreatedTransaction:
    transaction_ids: tuple[str, ...]


@dataclass(frozen=True)
class RequestTransaction:
    narrowing: Narrowing


@dataclass(frozen=True)
class ShownTransaction:
    """A transaction as listed: its stored product (the acceptor's), and the side to show
    instead of the stored one (None: as stored)."""

    transaction_id: str
    tender_id: str
    stored_form: bytes
    shown_side: Side | None = None


@dataclass(frozen=True)
class TransactionList:
    transactions: tuple[ShownTransaction, ...]
    description: str = "OK"


# ---------------------------------------------------------------- market contexts


@dataclass(frozen=True)
class RequestMarketContext:
    market_contexts: tuple[str, ...]  # URIs as asked, in order


@dataclass(frozen=True)
class MarketContextTerms:
    market_contexts: tuple[MarketContext, ...]  # one per URI asked, in the order asked


# ---------------------------------------------------------------- positions


@dataclass(frozen=True)
class RequestPosition:
    window: Interval
    step: timedelta | None = None  # None: the raw steps
    product_kind: str | None = None
    interface: tuple[str, str] | None = None  # (receipt node, '' for one node; delivery node)
    market_contexts: tuple[str, ...] = ()
    combine_transport: bool = False


@dataclass(frozen=True)
class PositionReport:
    positions: tuple[tuple[PositionKey, list[PositionStep]], ...]


# ---------------------------------------------------------------- exchange books


BOOK_DEPTH = 5  # price levels per side when the request names no depth


@dataclass(frozen=True)
class RequestBook:
    market_context: str
    product_kind: str | None = None
    interface: tuple[str, str] | None = None  # (receipt node, '' for one node; delivery node)
    window: Interval | None = None  # books whose delivery interval overlaps it
    depth: int = BOOK_DEPTH  # price levels per side


@dataclass(frozen=True)
class OrderBooks:
    books: tuple[BookDepth, ...]
    description: str = "OK"


# ---------------------------------------------------------------- options


@dataclass(frozen=True)
class ExerciseAsked:
    """One temix:exercise as read: its start (UTC) and duration text, its rate as a number
    in W at the option's scale (both read against the option, once it is found), and where
    each stands in the request, for messages."""

    transaction_id: str
    start: datetime
    duration_text: str
    duration_at: str
    quantity: Decimal
    quantity_text: str
    quantity_at: str


@dataclass(frozen=True)
class ExerciseOption:
    writer_id: str | None  # counterPartyID
    option_id: str | None  # temix:optionTransactionID
    exercises: tuple[ExerciseAsked, ...]


@dataclass(frozen=True)
class ExercisedOption:
    transaction_ids: tuple[str, ...]


# ---------------------------------------------------------------- registrations


@dataclass(frozen=True)
class CreateRegistration:
    registree_id: str | None  # None: the sender itself
    memberships: Memberships
    initial_password: InitialPassword | None = None


@dataclass(frozen=True)
class CreatedRegistration:
    registration_id: str
    registree_id: str


@dataclass(frozen=True)
class RequestRegistration:
    registree_id: str
    registrar_id: str | None = None
    registration_ids: tuple[str, ...] = ()
    intervals: tuple[Interval, ...] = ()


@dataclass(frozen=True)
class RegistrationList:
    registrations: tuple[Registration, ...]
    description: str = "OK"


@dataclass(frozen=True)
class CancelRegistration:
    registree_id: str
    registrar_id: str
    registration_ids: tuple[str, ...]


@dataclass(frozen=True)
class CanceledRegistration:
    registration_ids: tuple[str, ...]
