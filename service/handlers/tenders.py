"""EiCreateTender, EiDistributeTender, EiCancelTender, EiRequestTender."""

from __future__ import annotations

from service.domain import audit
from service.domain.audit import Subject
from service.domain.commands import (
    CancelTender,
    CanceledTender,
    CreatedTender,
    CreateTender,
    DistributedTender,
    DistributeTender,
    RequestTender,
    TenderList,
    ok_description,
)
from service.domain.errors import DuplicateIdError, NotFoundError, NotPermittedError
from service.domain.products import check_addressee, check_distinct_tenders, check_offer
from service.domain.tenders import check_cancellable
from service.domain.matching import exchange_market
from service.handlers import Context
from service.handlers.exchange import enter_book


def create_tender(cmd: CreateTender, uow, ctx: Context) -> CreatedTender:
    check_addressee(cmd.counterparty_id, ctx.party_id)
    for offer in cmd.offers:
        check_offer(offer.tender_id, offer.product, ctx.now)
    tender_ids = [offer.tender_id for offer in cmd.offers]
    check_distinct_tenders(tender_ids, ctx.party_id)
    market_uri = exchange_market(cmd.counterparty_id)
    if market_uri is not None:
        return enter_book(cmd, uow, ctx, market_uri)
    # written with the commit (one round trip); a tenderID used before or an unregistered
    # counterparty refuses the request then
    uow.tenders.add(ctx.party_id, ctx.request_id, cmd.counterparty_id, cmd.offers)
    for offer in cmd.offers:
        subject = Subject(ctx.party_id, cmd.counterparty_id, offer.tender_id)
        uow.audit.record(audit.TENDER_CREATED, subject, audit.product_details(offer.product))
    return CreatedTender(tuple(tender_ids))


def distribute_tender(cmd: DistributeTender, uow, ctx: Context) -> DistributedTender:
    """One tender to every party enrolled in its market context, optionally narrowed to
    groups and service areas by the scope. The recipients share the tendered quantity:
    first come, first served, never more than offered in total."""
    cmd.scope.check()
    for offer in cmd.offers:
        check_offer(offer.tender_id, offer.product, ctx.now)
    reached = set()
    for market_context in sorted({offer.product.terms.market_context for offer in cmd.offers}):
        same = [offer for offer in cmd.offers if offer.product.terms.market_context == market_context]
        parties = uow.tenders.recipients(ctx.party_id, market_context, cmd.scope)
        if not parties:
            raise NotFoundError(f"No party to reach in market context {market_context!r}{cmd.scope.within}")
        sent = uow.tenders.new_distribution(ctx.party_id, ctx.request_id, parties)
        tender_ids = [offer.tender_id for offer in same]
        check_distinct_tenders(tender_ids, ctx.party_id)
        if uow.tenders.add_distributed(ctx.party_id, ctx.request_id, sent, same) != len(same):
            raise DuplicateIdError(f"A tenderID of {tender_ids} is already used by {ctx.party_id!r}")
        reached.update(parties)
        for offer in same:
            details = dict(audit.product_details(offer.product), recipients=len(parties))
            if cmd.scope:
                details["scope"] = {"groups": list(cmd.scope.groups), "service_areas": list(cmd.scope.service_areas)}
            uow.audit.record(audit.TENDER_DISTRIBUTED, Subject(ctx.party_id, tender_id=offer.tender_id), details)
    return DistributedTender(len(reached), tuple(offer.tender_id for offer in cmd.offers))


def cancel_tender(cmd: CancelTender, uow, ctx: Context) -> CanceledTender:
    """A tenderID listed twice is cancelled once: cancelling is the same however often asked."""
    tender_ids = list(dict.fromkeys(cmd.tender_ids))
    locked = uow.tenders.lock(ctx.party_id, tender_ids, exchanges=True)
    for tender_id in tender_ids:
        stored = locked.get(tender_id)
        if stored is None:
            if uow.tenders.addressed_to(ctx.party_id, tender_id):
                raise NotPermittedError(f"Tender {tender_id!r} is not yours to cancel")
            raise NotFoundError(f"You have no tender {tender_id!r}")
        check_cancellable(stored.tender, ctx.party_id, ctx.now)
    uow.tenders.cancel([locked[tender_id].pk for tender_id in tender_ids], ctx.now)
    for tender_id in tender_ids:
        tender = locked[tender_id].tender
        subject = Subject(ctx.party_id, tender.counterparty_id, tender_id)
        uow.audit.record(audit.TENDER_CANCELLED, subject, {"remaining_kw": audit.amount(tender.remaining_kw)})
    return CanceledTender()


def request_tender(cmd: RequestTender, uow, ctx: Context) -> TenderList:
    found = uow.tenders.standing_visible_to(ctx.party_id, ctx.now, cmd.narrowing, ctx.max_items + 1)
    return TenderList(tuple(found[: ctx.max_items]), ok_description(len(found), ctx.max_items))
