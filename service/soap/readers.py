"""Payload -> command: one reader per operation, ``read(payload, reading) -> command``.

A reader reads what the request states (refusing, with an InvalidValueError naming the
element, a value TeMIX does not take) and leaves every rule that needs the server's state or
time to the handler. The header entries an operation understands are read before (by
``service.pipeline``, as their own SOAP faults) and come in ``reading.headers``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC

from lxml import etree

from service.domain.commands import (
    BOOK_DEPTH,
    Acceptance,
    CancelRegistration,
    CancelTender,
    CreateRegistration,
    CreateTender,
    CreateTransaction,
    DistributeTender,
    DistributionScope,
    ExerciseAsked,
    ExerciseOption,
    Narrowing,
    Offer,
    RequestBook,
    RequestMarketContext,
    RequestPosition,
    RequestRegistration,
    RequestTender,
    RequestTransaction,
)
from service.domain.errors import InvalidValueError
from service.domain.intervals import parse_resolution
from service.domain.markets import MarketContext
from service.domain.positions import check_profile_steps
from service.domain.registrations import InitialPassword, Memberships
from service.soap import mapping as m
from service.soap.ns import EI, EMIX, MIN, STRM, TEMIX, q
from service.soap.scope import SCOPE
from service.soap.stored import stored_form


@dataclass(frozen=True)
class Reading:
    """What a reader may use besides the payload."""

    market_of: Callable[[str], MarketContext]  # raises UnknownMarketContextError
    headers: Mapping[str, object] = field(default_factory=dict)  # header tag -> its value as read


def narrowing(payload: etree._Element, id_tag: str) -> Narrowing:
    """The list filters. strm:intervals: each strm:streamInterval's strm:uid is an ISO 8601
    interval, 'start/end' or 'start/duration' (the CTS StreamInterval carries no time of its own)."""
    intervals = payload.find(q(STRM, "intervals"))
    return Narrowing(
        counterparty_ids=tuple(m.texts(payload, q(EI, "counterPartyID"))),
        market_contexts=tuple(m.texts(payload, q(EMIX, "marketContext"))),
        ids=tuple(m.texts(payload, id_tag)),
        intervals=() if intervals is None else tuple(m.iso_interval(uid) for uid in intervals.iter(q(STRM, "uid"))),
    )


# ---------------------------------------------------------------- tenders


def _offers(payload: etree._Element, reading: Reading) -> tuple[Offer, ...]:
    offers = []
    for element in payload.iter(q(EI, "eiTender")):
        tender_id = m.text_of(element, q(EI, "tenderID"))
        product = element[1]
        offers.append(Offer(tender_id, m.read_product(product, reading.market_of), stored_form(product)))
    return tuple(offers)


def create_tender(payload: etree._Element, reading: Reading) -> CreateTender:
    return CreateTender(m.child_text(payload, q(EI, "counterPartyID")), _offers(payload, reading))


def distribute_tender(payload: etree._Element, reading: Reading) -> DistributeTender:
    return DistributeTender(_offers(payload, reading), reading.headers.get(SCOPE, DistributionScope()))


def cancel_tender(payload: etree._Element, reading: Reading) -> CancelTender:
    return CancelTender(tuple(m.texts(payload, q(EI, "tenderID"))))


def request_tender(payload: etree._Element, reading: Reading) -> RequestTender:
    return RequestTender(narrowing(payload, q(EI, "tenderID")))


# ---------------------------------------------------------------- transactions


def create_transaction(payload: etree._Element, reading: Reading) -> CreateTransaction:
    acceptances = []
    for element in payload.iter(q(EI, "eiTransaction")):
        transaction_id = m.text_of(element, q(EI, "transactionID"))
        tender_id = m.text_of(element, q(EI, "tenderID"))
        product = element[-1]
        acceptances.append(
            Acceptance(transaction_id, tender_id, m.read_product(product, reading.market_of), stored_form(product))
        )
    return CreateTransaction(m.child_text(payload, q(EI, "counterPartyID")), tuple(acceptances))


def request_transaction(payload: etree._Element, reading: Reading) -> RequestTransaction:
    return RequestTransaction(narrowing(payload, q(EI, "transactionID")))


# ---------------------------------------------------------------- positions


def request_position(payload: etree._Element, reading: Reading) -> RequestPosition:
    window = m.read_interval(payload.find(q(TEMIX, "window")), UTC)
    resolution = m.child_text(payload, q(TEMIX, "resolution"))
    step = parse_resolution(resolution) if resolution else None
    check_profile_steps(window, step)
    return RequestPosition(
        window=window,
        step=step,
        product_kind=m.child_text(payload, q(TEMIX, "productKind")),
        interface=m.position_interface(payload),
        market_contexts=tuple(m.texts(payload, q(EMIX, "marketContext"))),
        combine_transport=m.child_text(payload, q(TEMIX, "combineTransport")) in ("true", "1"),
    )


# ---------------------------------------------------------------- exchange books


def request_book(payload: etree._Element, reading: Reading) -> RequestBook:
    kind = m.child_text(payload, q(TEMIX, "productKind"))
    if kind == "delivered":
        raise InvalidValueError("temix:productKind 'delivered' is a position, not a book: ask for energy or transport")
    window = payload.find(q(TEMIX, "window"))
    depth = m.child_text(payload, q(TEMIX, "depth"))
    return RequestBook(
        market_context=m.text_of(payload, q(EMIX, "marketContext")),
        product_kind=kind,
        interface=m.position_interface(payload),
        window=None if window is None else m.read_interval(window, UTC),
        depth=BOOK_DEPTH if depth is None else int(depth),
    )


# ---------------------------------------------------------------- market contexts


def request_market_context(payload: etree._Element, reading: Reading) -> RequestMarketContext:
    return RequestMarketContext(tuple(m.texts(payload, q(EMIX, "marketContext"))))


# ---------------------------------------------------------------- options


def exercise_option(payload: etree._Element, reading: Reading) -> ExerciseOption:
    return ExerciseOption(
        writer_id=m.child_text(payload, q(EI, "counterPartyID")),
        option_id=m.child_text(payload, q(TEMIX, "optionTransactionID")),
        exercises=tuple(_exercise(element) for element in payload.iter(q(TEMIX, "exercise"))),
    )


def _exercise(element: etree._Element) -> ExerciseAsked:
    """A temix:exercise as far as it reads without its option (its time zone and scale)."""
    quantity = m.required(element, q(EMIX, "quantity"))
    start = m.required(element, q(MIN, "dtStart"))
    start_at = m.child(start, q(MIN, "dateTime"))
    if start_at is None:
        raise InvalidValueError(f"dtStart must be a min:dateTime at {m.where(start)}")
    duration = m.required(element, q(MIN, "duration"))
    try:
        start_utc = m.datetime_of(start_at)
    except InvalidValueError as exc:
        raise InvalidValueError(f"{exc.description} at {m.where(duration)}") from exc
    return ExerciseAsked(
        transaction_id=m.text_of(element, q(EI, "transactionID")),
        start=start_utc,
        duration_text=duration.text or "",
        duration_at=m.where(duration),
        quantity=m.decimal_of(quantity),
        quantity_text=quantity.text.strip(),
        quantity_at=m.where(quantity),
    )


# ---------------------------------------------------------------- registrations

REGISTREE, REGISTRAR = q(EI, "registreePartyID"), q(EI, "registrarPartyID")
# What the request log keeps of a registration only as a keyed digest (service.pipeline).
INITIAL_PASSWORD = q(TEMIX, "initialPassword")


def create_party_registration(payload: etree._Element, reading: Reading) -> CreateRegistration:
    info = payload[-1]  # temix:registrationInfo, the only member of ei:eiRegistrationInfo's group
    password = m.child(info, INITIAL_PASSWORD)
    return CreateRegistration(
        registree_id=m.child_text(payload, REGISTREE),
        memberships=Memberships.of(
            m.texts(info, q(EMIX, "marketContext")),
            m.texts(info, q(TEMIX, "group")),
            m.texts(info, q(TEMIX, "serviceArea")),
            m.texts(info, q(TEMIX, "role")),
        ),
        # taken as sent, spaces and all: it is a password
        initial_password=None if password is None else InitialPassword(
            password.text or "", m.child_text(info, q(TEMIX, "textOnly")) in ("true", "1")
        ),
    )


def request_party_registration(payload: etree._Element, reading: Reading) -> RequestRegistration:
    intervals = payload.find(q(STRM, "intervals"))
    return RequestRegistration(
        registree_id=m.child_text(payload, REGISTREE) or "",
        registrar_id=m.child_text(payload, REGISTRAR),
        registration_ids=tuple(m.texts(payload, q(EI, "registrationID"))),
        intervals=() if intervals is None else tuple(m.iso_interval(uid) for uid in intervals.iter(q(STRM, "uid"))),
    )


def cancel_party_registration(payload: etree._Element, reading: Reading) -> CancelRegistration:
    return CancelRegistration(
        registree_id=m.child_text(payload, REGISTREE) or "",
        registrar_id=m.child_text(payload, REGISTRAR) or "",
        registration_ids=tuple(m.texts(payload, q(EI, "registrationID"))),
    )
