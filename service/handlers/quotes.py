"""EiCreateQuote, EiCancelQuote, EiRequestQuote: indications of price, never actionable, and
the trade prices each market context publishes."""

from __future__ import annotations

from service.domain import audit
from service.domain.audit import Subject
from service.domain.commands import ok_description
from service.domain.errors import (
    DuplicateIdError,
    NotFoundError,
    NotPermittedError,
    NotStandingError,
    UnknownMarketContextError,
)
from service.domain.quotes import (
    CanceledQuote,
    CancelQuote,
    CreatedQuote,
    CreateQuote,
    QuoteList,
    RequestQuote,
    check_quote,
    check_subscriber,
)
from service.handlers import Context


def create_quote(cmd: CreateQuote, uow, ctx: Context) -> CreatedQuote:
    """The publisher's quotes, to one party or to every party enrolled in a market context
    (narrowed by the scope, recipients fixed now, as EiDistributeTender's)."""
    cmd.scope.check()
    for quote in cmd.quotes:
        check_quote(quote, ctx.now)
    quote_ids = [quote.quote_id for quote in cmd.quotes]
    if len(set(quote_ids)) != len(quote_ids):
        raise DuplicateIdError(f"A quoteID of {quote_ids} is listed twice")
    market_wide = check_subscriber(cmd.subscriber_id, ctx.party_id, cmd.quotes, bool(cmd.scope))
    market_contexts = {quote.market_context for quote in cmd.quotes}
    outside = sorted(market_contexts - uow.quotes.enrolled(ctx.party_id, market_contexts))
    if outside:
        raise NotPermittedError(f"{ctx.party_id!r} is not enrolled in market context {', '.join(outside)}: it may not quote there")
    if not market_wide:
        # written with the commit; a quoteID used before or an unregistered subscriber refuses it then
        uow.quotes.add(ctx.party_id, ctx.request_id, cmd.subscriber_id, None, cmd.quotes)
        _audit_quotes(uow, ctx, cmd, recipients=1)
        return CreatedQuote(tuple(quote_ids))
    parties = uow.tenders.recipients(ctx.party_id, cmd.subscriber_id, cmd.scope)
    if not parties:
        raise NotFoundError(f"No party to reach in market context {cmd.subscriber_id!r}{cmd.scope.within}")
    sent = uow.tenders.new_distribution(ctx.party_id, ctx.request_id, parties)
    uow.quotes.add(ctx.party_id, ctx.request_id, None, sent, cmd.quotes)
    _audit_quotes(uow, ctx, cmd, recipients=len(parties))
    return CreatedQuote(tuple(quote_ids))


def _audit_quotes(uow, ctx: Context, cmd: CreateQuote, recipients: int) -> None:
    for quote in cmd.quotes:
        details = {"quote_id": quote.quote_id, "products": len(quote.products), "recipients": recipients}
        uow.audit.record(audit.QUOTE_CREATED, Subject(ctx.party_id, cmd.subscriber_id), details)


def cancel_quote(cmd: CancelQuote, uow, ctx: Context) -> CanceledQuote:
    """All listed or none; a quoteID listed twice is cancelled once."""
    quote_ids = list(dict.fromkeys(cmd.quote_ids))
    locked = uow.quotes.lock(ctx.party_id, quote_ids)
    for quote_id in quote_ids:
        stored = locked.get(quote_id)
        if stored is None:
            raise NotFoundError(f"You have no quote {quote_id!r}")
        addressee = stored.subscriber_id or stored.market_context
        if cmd.subscriber_id is not None and cmd.subscriber_id != addressee:
            raise NotFoundError(f"Your quote {quote_id!r} is addressed to {addressee!r}, not {cmd.subscriber_id!r}")
        if stored.cancelled:
            raise NotStandingError(f"Quote {quote_id!r} was cancelled")
        if stored.expires_at is not None and stored.expires_at <= ctx.now:
            raise NotStandingError(f"Quote {quote_id!r} expired at {stored.expires_at.isoformat()}")
        if stored.end_at <= ctx.now:
            raise NotStandingError(f"The delivery of quote {quote_id!r} ended at {stored.end_at.isoformat()}")
    uow.quotes.cancel([locked[quote_id].pk for quote_id in quote_ids], ctx.now)
    for quote_id in quote_ids:
        subject = Subject(ctx.party_id, locked[quote_id].subscriber_id or locked[quote_id].market_context)
        uow.audit.record(audit.QUOTE_CANCELLED, subject, {"quote_id": quote_id})
    return CanceledQuote()


def request_quote(cmd: RequestQuote, uow, ctx: Context) -> QuoteList:
    """The publisher's standing quotes the requestor may see (its own, those addressed or
    distributed to it), or, for a market context's URI, the trade prices it publishes to
    its enrolled parties."""
    publisher_id, limit = cmd.publisher_id, ctx.max_items + 1
    if publisher_id == ctx.party_id:
        found = uow.quotes.standing_visible_to(ctx.party_id, publisher_id, ctx.now, cmd.narrowing, limit)
    else:
        is_party, enrolled = uow.quotes.publisher(ctx.party_id, publisher_id)
        if enrolled:
            found = uow.quotes.trade_prices(publisher_id, cmd.narrowing, limit)
        elif is_party:
            found = uow.quotes.standing_visible_to(ctx.party_id, publisher_id, ctx.now, cmd.narrowing, limit)
        else:
            _check_market_context(publisher_id, ctx)
            raise NotPermittedError(
                f"{ctx.party_id!r} is not enrolled in market context {publisher_id!r}: its trade prices are its parties'"
            )
    return QuoteList(tuple(found[: ctx.max_items]), ok_description(len(found), ctx.max_items))


def _check_market_context(publisher_id: str, ctx: Context) -> None:
    try:
        ctx.market_of(publisher_id)
    except UnknownMarketContextError:
        raise NotFoundError(f"publisherPartyID {publisher_id!r} is neither a registered party nor a market context") from None
