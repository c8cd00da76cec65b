"""EiCreateTender, EiDistributeTender, EiCancelTender, EiRequestTender."""

from __future__ import annotations

from lxml import etree

from service.domain.errors import DuplicateIdError, InvalidValueError, NotFoundError, NotPermittedError
from service.domain.tenders import check_cancellable
from service.handlers import (
    Request,
    narrowing,
    ok,
    reply_canceled_tender,
    reply_created_tender,
    reply_distributed_tender,
    reply_tenders,
    truncation,
)
from service.soap import mapping as m
from service.soap.stored import QUANTITY_PATH, stored_form, stored_products, with_quantity
from service.soap.ns import EI, q
from service.store import tenders

TENDER_STATES = ("tender", m.QUOTE_STATE)


def create_tender(req: Request) -> etree._Element:
    counterparty = req.text(q(EI, "counterPartyID"))
    _check_counterparty(req, counterparty)
    rows = [_tender_row(req, element, counterparty) for element in req.payload.iter(q(EI, "eiTender"))]
    _check_distinct(req, rows)
    tenders.queue_tenders(req.uow, req.party_id, rows)  # written with the commit: one round trip
    return reply_created_tender(req, ok(req), [row["tender_id"] for row in rows])


def _check_distinct(req: Request, rows: list[dict]) -> None:
    tender_ids = [row["tender_id"] for row in rows]
    if len(set(tender_ids)) != len(tender_ids):
        raise DuplicateIdError(f"A tenderID of {tender_ids} is already used by {req.party_id!r}")


def _insert_tenders(req: Request, rows: list[dict]) -> list[int]:
    _check_distinct(req, rows)
    pks = tenders.insert_tenders(req.conn, rows)
    if len(pks) != len(rows):
        raise DuplicateIdError(f"A tenderID of {[row['tender_id'] for row in rows]} is already used by {req.party_id!r}")
    return pks


def distribute_tender(req: Request) -> etree._Element:
    """One tender to every party enrolled in its market context, optionally narrowed to
    groups and service areas by the temix:distributionScope SOAP header. The recipients share
    the tendered quantity: first come, first served, never more than offered in total."""
    req.scope.check()
    rows = [_tender_row(req, element, None) for element in req.payload.iter(q(EI, "eiTender"))]
    reached = set()
    for market_context in sorted({row["market_context"] for row in rows}):
        same = [row for row in rows if row["market_context"] == market_context]
        parties = tenders.recipients(
            req.conn, req.party_id, market_context, req.scope.groups, req.scope.service_areas
        )
        if not parties:
            raise NotFoundError(f"No party to reach in market context {market_context!r}{req.scope.within}")
        sent = tenders.new_distribution(req.conn, req.party_id, req.request_id, parties)
        _insert_tenders(req, [dict(row, distribution_pk=sent) for row in same])
        reached.update(parties)
    return reply_distributed_tender(req, ok(req), len(reached), [row["tender_id"] for row in rows])


def _check_counterparty(req: Request, counterparty: str) -> None:
    if counterparty == req.party_id:
        raise InvalidValueError("counterPartyID names yourself: a tender is addressed to another party")
    # an unregistered counterparty is refused by the tender table's foreign key (404)


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
    product_xml = stored_form(product_element)
    return tenders.new_row(req.party_id, req.request_id, counterparty, product, tender_id, product_xml)


def cancel_tender(req: Request) -> etree._Element:
    """A tenderID listed twice is cancelled once: cancelling is the same however often asked."""
    tender_ids = list(dict.fromkeys(req.texts(q(EI, "tenderID"))))
    locked = tenders.lock(req.uow, req.party_id, tender_ids)
    for tender_id in tender_ids:
        stored = locked.get(tender_id)
        if stored is None:
            if tenders.addressed_to(req.uow, req.party_id, tender_id):
                raise NotPermittedError(f"Tender {tender_id!r} is not yours to cancel")
            raise NotFoundError(f"You have no tender {tender_id!r}")
        check_cancellable(stored.tender, req.party_id, req.now)
    tenders.cancel(req.uow, [locked[tender_id].pk for tender_id in tender_ids], req.now)
    return reply_canceled_tender(req, ok(req))


def request_tender(req: Request) -> etree._Element:
    narrow = narrowing(req, q(EI, "tenderID"))
    found = tenders.standing_visible_to(req.uow, req.party_id, req.now, narrow, req.max_items + 1)
    reply = reply_tenders(req, ok(req, truncation(found, req.max_items)))
    shown = found[: req.max_items]
    products = stored_products([s.product_xml for s in shown], QUANTITY_PATH)
    m.add_items(reply, q(EI, "eiTender"), (q(EI, "tenderID"),), (
        ((s.tender_id,), with_quantity(product, s.remaining_kw, s.rate_scale)) for s, product in zip(shown, products)
    ))
    return reply
