"""EiCreateTender addressed to a market context's exchange: the tenders enter their order
books and are matched at once (``service.domain.matching`` has the rules).

All in the request's one database transaction: the books are locked (in one order), each
tender is matched against the resting orders it crosses, its fills become transactions of
both sides with the exchange, at the resting order's price, with both positions updated;
what is left rests. A refusal undoes all of it.

EiRequestBook (extension) shows a market context's books to its enrolled parties: price
levels only, never who rests there nor their tenderIDs.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from service.domain import audit
from service.domain.audit import Subject
from service.domain.commands import CreatedTender, CreateTender, OrderBooks, RequestBook, ok_description
from service.domain.errors import InvalidValueError, NotFoundError, NotPermittedError, UnknownMarketContextError
from service.domain.matching import BookDepth, BookKey, Entered, Order, describe_entered, filled_kw, match
from service.domain.tenders import Side
from service.domain.positions import changes_for_transaction
from service.domain.products import Product
from service.domain.quotes import published
from service.domain.units import DECIMAL_CONTEXT
from service.handlers import Context
from service.store.transactions import NewTransaction


def enter_book(cmd: CreateTender, uow, ctx: Context, market_uri: str) -> CreatedTender:
    market = ctx.market_of(market_uri)  # 462 if unregistered
    if not market.exchange:
        raise NotFoundError(f"Market context {market_uri!r} runs no exchange: {cmd.counterparty_id!r} is not a party")
    for offer in cmd.offers:
        _check_order(offer.tender_id, offer.product, market_uri, ctx)
    orders = [offer for offer in cmd.offers if not offer.product.is_quote]  # quotes never match
    uow.book.enter(sorted({BookKey.of(offer.product.terms) for offer in orders}))
    pks: list[int | None] = [None] * len(cmd.offers)  # ids reserved at the first fill: it names them
    exchange_id = cmd.counterparty_id
    entered, kept, made, changes, trades, pushed = [], [], {}, [], [], []
    for index, offer in enumerate(cmd.offers):
        terms = offer.product.terms
        if offer.product.is_quote:
            entered.append(Entered(offer.tender_id, terms.quantity_kw, Decimal(0), 0, quote=True))
            kept.append(terms.quantity_kw)
            continue
        incoming = Order(0, ctx.party_id, terms.side, terms.price_per_kwh, terms.quantity_kw, offer.product.integral_only)
        fills = match(incoming, uow.book.crossing(BookKey.of(terms), incoming, ctx.now))
        if fills and pks[index] is None:
            pks = uow.book.reserve(len(cmd.offers))
        if fills:
            incoming = replace(incoming, ref=pks[index])
        for fill in fills:
            resting = fill.resting
            uow.tenders.take(resting.ref, fill.quantity_kw)
            trades.append(replace(terms, price_per_kwh=fill.price_per_kwh, quantity_kw=fill.quantity_kw))
            for order, scale, form, own_offer in (
                (incoming, offer.product.rate_scale, offer.stored_form, offer),
                (resting, resting.rate_scale, resting.stored_form, None),
            ):
                # the exchange takes the order's opposite side, for the fill, at the trade price
                side = order.side.opposite
                deal = replace(terms, side=side, price_per_kwh=fill.price_per_kwh, quantity_kw=fill.quantity_kw)
                product = Product(deal, "transaction", rate_scale=scale)
                stored = ctx.forms.filled(form, scale, fill.quantity_kw, fill.price_per_kwh, side, market.energy_scale)
                transaction_id = f"fill-{incoming.ref}-{resting.ref}-{order.side.value}"
                made.setdefault(order.party_id, []).append(NewTransaction(transaction_id, order.ref, product, stored))
                pushed.append((order.party_id, transaction_id))
                subject = Subject(order.party_id, exchange_id, transaction_id=transaction_id)
                uow.audit.record(audit.TRANSACTION_CREATED, subject, audit.product_details(product))
                changes += changes_for_transaction(exchange_id, order.party_id, deal)
        done = filled_kw(fills)
        entered.append(Entered(offer.tender_id, terms.quantity_kw, done, len(fills)))
        kept.append(DECIMAL_CONTEXT.subtract(terms.quantity_kw, done))
    uow.tenders.add(ctx.party_id, ctx.request_id, exchange_id, cmd.offers, entered=list(zip(pks, kept)))
    for offer, done in zip(cmd.offers, entered):
        details = dict(audit.product_details(offer.product), filled_kw=audit.amount(done.filled_kw))
        uow.audit.record(audit.TENDER_CREATED, Subject(ctx.party_id, exchange_id, offer.tender_id), details)
    for party_id in sorted(made):
        uow.transactions.add(exchange_id, ctx.request_id, party_id, made[party_id])
    uow.outbox.add(exchange_id, pushed)  # to the parties with a callback URL, in fill order
    uow.positions.apply(changes)  # once, in key order: concurrent writers never deadlock
    uow.quotes.publish(published(trades), ctx.now)  # one trade per fill, at its price
    return CreatedTender(tuple(offer.tender_id for offer in cmd.offers), describe_entered(entered))


def _check_order(tender_id: str, product: Product, market_uri: str, ctx: Context) -> None:
    if product.terms.market_context != market_uri:
        raise InvalidValueError(
            f"Tender {tender_id!r} is in market context {product.terms.market_context!r}: "
            f"the exchange of {market_uri!r} trades only in its own"
        )
    if product.option is not None:
        raise InvalidValueError(f"Tender {tender_id!r} is an option: the exchange trades energy and transport only")
    if product.terms.interval.start <= ctx.now:
        raise InvalidValueError(
            f"Tender {tender_id!r}: the book of its interval closed when its delivery started "
            f"at {product.terms.interval.start.isoformat()}"
        )


def request_book(cmd: RequestBook, uow, ctx: Context) -> OrderBooks:
    """The best price levels of the market context's open books, for a party enrolled in it
    (read in the request's transaction: an enrolment just made is seen at once). A market
    context whose exchange stopped still shows the orders resting in its books."""
    found = uow.market_contexts.as_seen_by(ctx.party_id, [cmd.market_context])
    if cmd.market_context not in found:
        raise UnknownMarketContextError(f"Market context {cmd.market_context!r} is not registered with this service")
    if not found[cmd.market_context][1]:
        raise NotPermittedError(
            f"You are not enrolled in market context {cmd.market_context!r}: its books are for its parties"
        )
    levels = uow.book.levels(
        cmd.market_context, ctx.now, cmd.depth, ctx.max_items + 1, cmd.product_kind, cmd.interface, cmd.window
    )
    books: dict[BookKey, BookDepth] = {}
    for key, side, level in levels[: ctx.max_items]:
        book = books.get(key) or BookDepth(key)
        books[key] = (
            replace(book, bids=book.bids + (level,)) if side is Side.BUY else replace(book, offers=book.offers + (level,))
        )
    return OrderBooks(tuple(books.values()), ok_description(len(levels), ctx.max_items))
