"""Products as a request states them, and the rules a request's products must meet before
anything is looked up: the transactive state an operation takes, expiry, addressees."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from service.domain.errors import DuplicateIdError, InvalidValueError
from service.domain.options import OptionTerms
from service.domain.tenders import Terms

QUOTE_STATE = "indicationOfInterest"
TENDER_STATES = ("tender", QUOTE_STATE)


@dataclass(frozen=True)
class Product:
    """An emix:product or emix:emixOption, normalised. For an option, ``terms.price_per_kwh``
    is its premium."""

    terms: Terms
    transactive_state: str
    integral_only: bool = False
    expires_at: datetime | None = None
    rate_scale: str = "k"  # the siScaleCode the party used, to render remaining rates back
    option: OptionTerms | None = None

    @property
    def is_quote(self) -> bool:
        return self.transactive_state == QUOTE_STATE


def check_addressee(counterparty_id: str | None, party_id: str) -> None:
    """A tender is addressed to another party (an unregistered one is refused by the store)."""
    if counterparty_id == party_id:
        raise InvalidValueError("counterPartyID names yourself: a tender is addressed to another party")


def check_offer(tender_id: str, product: Product, now: datetime) -> None:
    """A tender or quote, not expired on arrival."""
    if product.transactive_state not in TENDER_STATES:
        raise InvalidValueError(
            f"transactiveState of tender {tender_id!r} must be one of {TENDER_STATES}, "
            f"not {product.transactive_state!r}"
        )
    if product.expires_at is not None and product.expires_at <= now:
        raise InvalidValueError(
            f"Tender {tender_id!r} expires at {product.expires_at.isoformat()}, before the server time"
        )


def check_distinct_tenders(tender_ids: list[str], party_id: str) -> None:
    if len(set(tender_ids)) != len(tender_ids):
        raise DuplicateIdError(f"A tenderID of {tender_ids} is already used by {party_id!r}")


def check_accepting(transaction_id: str, product: Product) -> None:
    """An acceptance states the transaction it makes."""
    if product.transactive_state != "transaction":
        raise InvalidValueError(
            f"transactiveState of transaction {transaction_id!r} must be 'transaction', "
            f"not {product.transactive_state!r}"
        )
