"""EiRequestEiMarketContext: the terms of market contexts, for the parties enrolled in them."""

from __future__ import annotations

from service.domain.commands import MarketContextTerms, RequestMarketContext
from service.domain.errors import NotPermittedError, UnknownMarketContextError
from service.handlers import Context


def request_market_context(cmd: RequestMarketContext, uow, ctx: Context) -> MarketContextTerms:
    """Each market context asked for (once, in the order asked), if the requestor is enrolled
    in it: a market context's terms are for its participants. Read in the request's transaction,
    so a market context just added, or an enrolment just made, is seen at once."""
    asked = list(dict.fromkeys(cmd.market_contexts))
    found = uow.market_contexts.as_seen_by(ctx.party_id, asked)
    shown = []
    for uri in asked:
        if uri not in found:
            raise UnknownMarketContextError(f"Market context {uri!r} is not registered with this service")
        context, enrolled = found[uri]
        if not enrolled:
            raise NotPermittedError(
                f"You are not enrolled in market context {uri!r}: its operator enrolls parties"
                " (temix party enroll --market-context)"
            )
        shown.append(context)
    return MarketContextTerms(tuple(shown))
