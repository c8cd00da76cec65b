"""EiCreateTransaction (accepting tenders) and EiRequestTransaction."""

from __future__ import annotations

from dataclasses import replace

from service.domain import audit
from service.domain.audit import Subject
from service.domain.commands import (
    CreatedTransaction,
    CreateTransaction,
    RequestTransaction,
    ShownTransaction,
    TransactionList,
    ok_description,
)
from service.domain.errors import NotActionableError, NotFoundError
from service.domain.positions import changes_for_transaction
from service.domain.products import check_accepting
from service.domain.quotes import published
from service.domain.tenders import check_acceptance
from service.domain.units import DECIMAL_CONTEXT
from service.handlers import Context
from service.store.transactions import NewTransaction


def create_transaction(cmd: CreateTransaction, uow, ctx: Context) -> CreatedTransaction:
    for acceptance in cmd.acceptances:
        check_accepting(acceptance.transaction_id, acceptance.product)
    # Lock every tender first, in one statement and order, then write: concurrent requests
    # queue, never deadlock.
    locked = uow.tenders.lock(cmd.maker_id, {acceptance.tender_id for acceptance in cmd.acceptances})
    for acceptance in cmd.acceptances:
        if acceptance.tender_id not in locked:
            if uow.quotes.exists(cmd.maker_id, acceptance.tender_id):
                raise NotActionableError(
                    f"{acceptance.tender_id!r} of {cmd.maker_id!r} is a quote: quotes are never actionable, accept a tender"
                )
            raise NotFoundError(f"{cmd.maker_id!r} has no tender {acceptance.tender_id!r}")
    distributed = [stored.pk for stored in locked.values() if stored.tender.counterparty_id is None]
    reached = uow.tenders.distributed_to(distributed, ctx.party_id) if distributed else set()
    changes, made, trades = [], [], []
    for acceptance in cmd.acceptances:
        stored = locked[acceptance.tender_id]
        product = acceptance.product
        may_see = stored.tender.counterparty_id == ctx.party_id or stored.pk in reached
        check_acceptance(stored.tender, ctx.party_id, may_see, product.terms, ctx.now, product.option)
        uow.tenders.take(stored.pk, product.terms.quantity_kw)
        locked[acceptance.tender_id] = _after_take(stored, product.terms.quantity_kw)
        made.append(NewTransaction(acceptance.transaction_id, stored.pk, product, acceptance.stored_form))
        if product.option is None:  # an option changes no position until it is exercised
            changes += changes_for_transaction(ctx.party_id, cmd.maker_id, product.terms)
            trades.append(product.terms)  # an option's premium is no price of energy: not published
        _audit_acceptance(uow, ctx, cmd.maker_id, acceptance, locked[acceptance.tender_id].tender.remaining_kw)
    uow.transactions.add(ctx.party_id, ctx.request_id, cmd.maker_id, made)
    uow.positions.apply(changes)
    uow.quotes.publish(published(trades), ctx.now)
    return CreatedTransaction(tuple(acceptance.transaction_id for acceptance in cmd.acceptances))


def _audit_acceptance(uow, ctx: Context, maker_id: str, acceptance, remaining_kw) -> None:
    """The transaction made, and the tender filled by it (partly while rate remains)."""
    terms = acceptance.product.terms
    ids = {"tender_id": acceptance.tender_id, "transaction_id": acceptance.transaction_id}
    details = audit.product_details(acceptance.product)
    uow.audit.record(audit.TRANSACTION_CREATED, Subject(ctx.party_id, maker_id, **ids), details)
    filled = {"rate_kw": audit.amount(terms.quantity_kw), "price_per_kwh": audit.amount(terms.price_per_kwh),
              "remaining_kw": audit.amount(remaining_kw)}
    uow.audit.record(audit.TENDER_FILLED, Subject(maker_id, ctx.party_id, **ids), filled)


def _after_take(stored, quantity_kw):
    """The locked tender as it stands after this request's earlier acceptances of it."""
    remaining_kw = DECIMAL_CONTEXT.subtract(stored.tender.remaining_kw, quantity_kw)  # exact, as in the database
    return replace(stored, tender=replace(stored.tender, remaining_kw=remaining_kw))


def request_transaction(cmd: RequestTransaction, uow, ctx: Context) -> TransactionList:
    found = uow.transactions.involving(ctx.party_id, cmd.narrowing, ctx.max_items + 1)
    shown = tuple(
        # the acceptor's product; the tender's party sees the opposite side
        ShownTransaction(
            stored.transaction_id,
            stored.tender_id,
            stored.stored_form,
            None if stored.party_id == ctx.party_id else stored.side.opposite,
        )
        for stored in found[: ctx.max_items]
    )
    return TransactionList(shown, ok_description(len(found), ctx.max_items))
