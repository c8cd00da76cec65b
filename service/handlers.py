"""One function per EI operation: read the payload, ask the domain, save, build the reply.

Each runs inside the request's unit of work (see ``service.dispatch``); a refused request
raises a TemixError, which the dispatcher turns into this operation's reply with the error's
response code, after undoing the operation's writes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from lxml import etree

from service.domain.errors import (
    DuplicateIdError,
    InvalidValueError,
    NotFoundError,
    NotPermittedError,
)
from service.domain.intervals import parse_resolution
from service.domain.markets import MarketContext
from service.domain.positions import profile
from service.domain.tenders import check_acceptance, check_cancellable
from service.soap import mapping as m
from service.soap.ns import EI, EMIX, PYLD, STRM, TEMIX, q
from service.store import positions, tenders, transactions
from service.store.parties import get_party_credentials
from service.store.narrowing import Narrowing

TENDER_STATES = ("tender", m.QUOTE_STATE)
MAX_PROFILE_STEPS = 10_000


@dataclass(frozen=True)
class Request:
    """What every handler gets: the authenticated party, the payload, the server clock."""

    conn: object
    party_id: str
    payload: etree._Element
    now: datetime
    market_of: Callable[[str], MarketContext]
    max_items: int
    scope_groups: tuple[str, ...] = ()  # temix:distributionScope header

    @property
    def request_id(self) -> str:
        return m.request_id_of(self.payload)

    def texts(self, tag: str) -> tuple[str, ...]:
        return tuple(m.texts(self.payload, tag))

    def text(self, tag: str) -> str | None:
        found = self.payload.find(tag)
        return (found.text or "").strip() if found is not None else None


# ---------------------------------------------------------------- replies


def reply_created_tender(req: Request, response, tender_ids=()) -> etree._Element:
    children = [response, m.element(q(EI, "partyID"), req.party_id)]
    counterparty = req.text(q(EI, "counterPartyID"))
    if counterparty is not None:
        children.append(m.element(q(EI, "counterPartyID"), counterparty))
    children += m.ids(q(EI, "tenderID"), tender_ids)
    return m.element(q(PYLD, "eiCreatedTender"), None, *children)


def reply_canceled_tender(req: Request, response) -> etree._Element:
    children = [response, m.element(q(EI, "partyID"), req.party_id)]
    counterparty = req.text(q(EI, "counterPartyID"))
    if counterparty is not None:
        children.append(m.element(q(EI, "counterPartyID"), counterparty))
    return m.element(q(PYLD, "eiCanceledTender"), None, *children)


def reply_tenders(req: Request, response, items=()) -> etree._Element:
    return m.element(q(PYLD, "eiReplyTender"), None, response, *items)


def reply_distributed_tender(req: Request, response, recipients=0, tender_ids=()) -> etree._Element:
    return m.element(
        q(TEMIX, "eiDistributedTender"),
        None,
        response,
        m.element(q(EI, "partyID"), req.party_id),
        m.element(q(TEMIX, "recipientCount"), str(recipients)),
        *m.ids(q(EI, "tenderID"), tender_ids),
    )


def reply_created_transaction(req: Request, response, transaction_ids=()) -> etree._Element:
    return m.element(
        q(PYLD, "eiCreatedTransaction"),
        None,
        m.element(q(EI, "counterPartyID"), req.text(q(EI, "counterPartyID")) or ""),
        m.element(q(EI, "partyID"), req.party_id),
        response,
        *m.ids(q(EI, "transactionID"), transaction_ids),
    )


def reply_transactions(req: Request, response, items=()) -> etree._Element:
    return m.element(q(PYLD, "eiReplyTransaction"), None, response, *items)


def reply_positions(req: Request, response, items=()) -> etree._Element:
    return m.element(
        q(TEMIX, "eiReplyPosition"), None, response, m.element(q(EI, "partyID"), req.party_id), *items
    )


def ok(req: Request, description: str = "OK") -> etree._Element:
    return m.ei_response(req.request_id, "200", description)


# ---------------------------------------------------------------- tenders


def create_tender(req: Request) -> etree._Element:
    counterparty = req.text(q(EI, "counterPartyID"))
    _check_counterparty(req, counterparty)
    rows = [_tender_row(req, element, counterparty) for element in req.payload.iter(q(EI, "eiTender"))]
    _insert_tenders(req, rows)
    return reply_created_tender(req, ok(req), [row["tender_id"] for row in rows])


def _insert_tenders(req: Request, rows: list[dict]) -> list[int]:
    tender_ids = [row["tender_id"] for row in rows]
    pks = tenders.insert_tenders(req.conn, rows)
    if len(set(tender_ids)) != len(tender_ids) or len(pks) != len(rows):
        raise DuplicateIdError(f"A tenderID of {tender_ids} is already used by {req.party_id!r}")
    return pks


def distribute_tender(req: Request) -> etree._Element:
    """One tender to every party enrolled in its market context, optionally narrowed to
    groups by the temix:distributionScope SOAP header. The recipients share the tendered
    quantity: first come, first served, never more than offered in total."""
    rows = [_tender_row(req, element, None) for element in req.payload.iter(q(EI, "eiTender"))]
    reached = set()
    for market_context in sorted({row["market_context"] for row in rows}):
        same = [row for row in rows if row["market_context"] == market_context]
        parties = tenders.recipients(req.conn, req.party_id, market_context, req.scope_groups)
        if not parties:
            raise NotFoundError(f"No party to reach in market context {market_context!r}")
        tenders.address(req.conn, _insert_tenders(req, same), parties)
        reached.update(parties)
    return reply_distributed_tender(req, ok(req), len(reached), [row["tender_id"] for row in rows])


def _check_counterparty(req: Request, counterparty: str) -> None:
    if counterparty == req.party_id:
        raise InvalidValueError("counterPartyID names yourself: a tender is addressed to another party")
    if get_party_credentials(req.conn, counterparty) is None:
        raise NotFoundError(f"Counterparty {counterparty!r} is not registered")


def _tender_row(req: Request, element: etree._Element, counterparty: str | None) -> dict:
    tender_id = m.text_of(element, q(EI, "tenderID"))
    product_element = element[1]
    product = m.read_product(product_element, req.market_of)
    if product.transactive_state not in TENDER_STATES:
        raise InvalidValueError(
            f"transactiveState of tender {tender_id!r} must be one of {TENDER_STATES}, "
            f"not {product.transactive_state!r}"
        )
    if product.expires_at is not None and product.expires_at <= req.now:
        raise InvalidValueError(
            f"Tender {tender_id!r} expires at {product.expires_at.isoformat()}, before the server time"
        )
    product_xml = etree.tostring(product_element, method="c14n")
    return tenders.new_row(req.party_id, req.request_id, counterparty, product, tender_id, product_xml)


def cancel_tender(req: Request) -> etree._Element:
    found = []
    for tender_id in req.texts(q(EI, "tenderID")):
        stored = tenders.lock(req.conn, req.party_id, tender_id)
        if stored is None:
            if tenders.addressed_to(req.conn, req.party_id, tender_id):
                raise NotPermittedError(f"Tender {tender_id!r} is not yours to cancel")
            raise NotFoundError(f"You have no tender {tender_id!r}")
        check_cancellable(stored.tender, req.party_id, req.now)
        found.append(stored.pk)
    tenders.cancel(req.conn, found, req.now)
    return reply_canceled_tender(req, ok(req))


def request_tender(req: Request) -> etree._Element:
    narrow = _narrowing(req, q(EI, "tenderID"))
    found = tenders.standing_visible_to(req.conn, req.party_id, req.now, narrow, req.max_items + 1)
    items = [
        m.wrap(q(EI, "eiTender"), q(EI, "tenderID"), s.tender.tender_id,
               m.with_quantity(s.product_xml, s.tender.remaining_kw, s.rate_scale))
        for s in found[: req.max_items]
    ]
    return reply_tenders(req, ok(req, _truncation(found, req.max_items)), items)


def _truncation(found: list, limit: int) -> str:
    return f"OK: the first {limit} matches (more exist; narrow the request)" if len(found) > limit else "OK"


def _narrowing(req: Request, id_tag: str) -> Narrowing:
    """The request filters. strm:intervals: each strm:streamInterval's strm:uid is an ISO 8601
    interval, 'start/end' or 'start/duration' (the CTS StreamInterval carries no time of its own)."""
    intervals = req.payload.find(q(STRM, "intervals"))
    return Narrowing(
        counterparty_ids=req.texts(q(EI, "counterPartyID")),
        market_contexts=req.texts(q(EMIX, "marketContext")),
        ids=req.texts(id_tag),
        intervals=() if intervals is None else tuple(m.iso_interval(uid) for uid in intervals.iter(q(STRM, "uid"))),
    )


# ---------------------------------------------------------------- transactions


def create_transaction(req: Request) -> etree._Element:
    maker_id = req.text(q(EI, "counterPartyID"))
    accepted = []
    for element in req.payload.iter(q(EI, "eiTransaction")):
        transaction_id = m.text_of(element, q(EI, "transactionID"))
        tender_id = m.text_of(element, q(EI, "tenderID"))
        product = m.read_product(element[-1], req.market_of)
        if product.transactive_state != "transaction":
            raise InvalidValueError(
                f"transactiveState of transaction {transaction_id!r} must be 'transaction', "
                f"not {product.transactive_state!r}"
            )
        accepted.append((transaction_id, tender_id, product, element[-1]))
    # Lock every tender first, in one order, then write: concurrent requests queue, never deadlock.
    locked = {}
    for tender_id in sorted({tender_id for _, tender_id, _, _ in accepted}):
        stored = tenders.lock(req.conn, maker_id, tender_id)
        if stored is None:
            raise NotFoundError(f"{maker_id!r} has no tender {tender_id!r}")
        locked[tender_id] = stored
    changes = []
    for transaction_id, tender_id, product, element in accepted:
        stored = locked[tender_id]
        may_see = stored.tender.counterparty_id == req.party_id or (
            stored.tender.counterparty_id is None and tenders.is_recipient(req.conn, stored.pk, req.party_id)
        )
        check_acceptance(stored.tender, req.party_id, may_see, product.terms, req.now)
        tenders.take(req.conn, stored.pk, product.terms.quantity_kw)
        locked[tender_id] = _after_take(stored, product.terms.quantity_kw)
        row = transactions.new_row(
            req.party_id, req.request_id, maker_id, transaction_id, stored.pk, product,
            etree.tostring(element, method="c14n"),
        )
        if not transactions.insert_transaction(req.conn, row):
            raise DuplicateIdError(f"transactionID {transaction_id!r} is already used by {req.party_id!r}")
        changes += positions.changes_for_transaction(req.party_id, maker_id, product.terms)
    positions.apply(req.conn, changes)
    return reply_created_transaction(req, ok(req), [a[0] for a in accepted])


def _after_take(stored, quantity_kw):
    """The locked tender as it stands after this request's earlier acceptances of it."""
    return replace(stored, tender=replace(stored.tender, remaining_kw=stored.tender.remaining_kw - quantity_kw))


def request_transaction(req: Request) -> etree._Element:
    narrow = _narrowing(req, q(EI, "transactionID"))
    found = transactions.involving(req.conn, req.party_id, narrow, req.max_items + 1)
    items = []
    for stored in found[: req.max_items]:
        product = etree.fromstring(stored.product_xml)
        if stored.party_id != req.party_id:  # the requestor made the tender: its side is opposite
            m.with_side(product, stored.side.opposite)
        items.append(
            m.element(
                q(EI, "eiTransaction"),
                None,
                m.element(q(EI, "transactionID"), stored.transaction_id),
                m.element(q(EI, "tenderID"), stored.tender_id),
                product,
            )
        )
    return reply_transactions(req, ok(req, _truncation(found, req.max_items)), items)


# ---------------------------------------------------------------- positions (extension)


def request_position(req: Request) -> etree._Element:
    """The party's own positions over a window, as a profile: raw steps or a fixed grid."""
    window = m.read_interval(req.payload.find(q(TEMIX, "window")), UTC)
    resolution = req.text(q(TEMIX, "resolution"))
    step = parse_resolution(resolution) if resolution else None
    if step is not None and window.seconds // int(step.total_seconds()) > MAX_PROFILE_STEPS:
        raise InvalidValueError(f"More than {MAX_PROFILE_STEPS} steps asked: widen the resolution")
    kind = req.text(q(TEMIX, "productKind"))
    interface = m.position_interface(req.payload)
    found = positions.read_window(
        req.conn, req.party_id, window, req.texts(q(EMIX, "marketContext")), kind, interface
    )
    items = [
        m.position(held.key, profile(held.opening, held.changes, window, step)) for held in found
    ]
    return reply_positions(req, ok(req), items)
