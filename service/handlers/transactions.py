"""EiCreateTransaction (accepting tenders) and EiRequestTransaction."""

from __future__ import annotations

from dataclasses import replace

from lxml import etree

from service.domain.errors import InvalidValueError, NotFoundError
from service.domain.tenders import check_acceptance
from service.domain.units import DECIMAL_CONTEXT
from service.handlers import Request, narrowing, ok, reply_created_transaction, reply_transactions, truncation
from service.soap import mapping as m
from service.soap.stored import SIDE_PATH, stored_form, stored_products, with_side
from service.soap.ns import EI, q
from service.store import positions, tenders, transactions


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
    # Lock every tender first, in one statement and order, then write: concurrent requests
    # queue, never deadlock.
    locked = tenders.lock(req.uow, maker_id, {tender_id for _, tender_id, _, _ in accepted})
    for _, tender_id, _, _ in accepted:
        if tender_id not in locked:
            raise NotFoundError(f"{maker_id!r} has no tender {tender_id!r}")
    distributed = [stored.pk for stored in locked.values() if stored.tender.counterparty_id is None]
    reached = tenders.distributed_to(req.uow, distributed, req.party_id) if distributed else set()
    changes, rows = [], []
    for transaction_id, tender_id, product, element in accepted:
        stored = locked[tender_id]
        may_see = stored.tender.counterparty_id == req.party_id or stored.pk in reached
        check_acceptance(stored.tender, req.party_id, may_see, product.terms, req.now, product.option)
        tenders.take(req.uow, stored.pk, product.terms.quantity_kw)
        locked[tender_id] = _after_take(stored, product.terms.quantity_kw)
        rows.append(transactions.new_row(
            req.party_id, req.request_id, maker_id, transaction_id, stored.pk, product,
            stored_form(element),
        ))
        if product.option is None:  # an option changes no position until it is exercised
            changes += positions.changes_for_transaction(req.party_id, maker_id, product.terms)
    transactions.queue_transactions(req.uow, req.party_id, rows)
    positions.apply(req.uow, changes)
    return reply_created_transaction(req, ok(req), [a[0] for a in accepted])


def _after_take(stored, quantity_kw):
    """The locked tender as it stands after this request's earlier acceptances of it."""
    remaining_kw = DECIMAL_CONTEXT.subtract(stored.tender.remaining_kw, quantity_kw)  # exact, as in the database
    return replace(stored, tender=replace(stored.tender, remaining_kw=remaining_kw))


def request_transaction(req: Request) -> etree._Element:
    narrow = narrowing(req, q(EI, "transactionID"))
    found = transactions.involving(req.uow, req.party_id, narrow, req.max_items + 1)
    reply = reply_transactions(req, ok(req, truncation(found, req.max_items)))
    shown = found[: req.max_items]
    products = stored_products([stored.product_xml for stored in shown], SIDE_PATH)
    m.add_items(reply, q(EI, "eiTransaction"), (q(EI, "transactionID"), q(EI, "tenderID")), (
        ((stored.transaction_id, stored.tender_id), _as_seen_by(req.party_id, stored, product))
        for stored, product in zip(shown, products)
    ))
    return reply


def _as_seen_by(party_id: str, stored: transactions.StoredTransaction, product) -> etree._Element:
    """The acceptor's product; the tender's party sees the opposite side."""
    if stored.party_id != party_id:
        return with_side(product, stored.side.opposite)
    return product[0]
