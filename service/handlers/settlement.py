"""Settlement of a market context (``temix settle`` and ``temix serve --settle-every``):
positions against metered delivery, the imbalances booked as transactions with the balancing
party (``service.domain.settlement`` has the rules).

One run is one unit of work: the market context's settlement lock first (runs queue, so none
settles an imbalance another just settled), then the readings, positions and prices are read,
and the imbalance transactions, both parties' position changes and the audit rows are written
with one COMMIT. A failure writes nothing.

Only intervals whose price is final are settled: those ended at least the price grace ago.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from service.domain import audit
from service.domain.audit import Subject
from service.domain.errors import InvalidValueError
from service.domain.intervals import Interval
from service.domain.markets import MarketContext
from service.domain.positions import changes_for_transaction
from service.domain.settlement import PricePoint, Settle, Settled, real_time_price, settle, settlement_intervals
from service.domain.tenders import Terms



CHUNK = 500  # imbalance transactions per position and audit statement


class SettlementForms(Protocol):
    """What settlement needs of the wire format (``service.soap.settlement``)."""

    def quoted_prices(self, product_xml: bytes, market: MarketContext) -> list[Terms]:
        """The energy products of a stored quote, as terms (price per kWh, interface, interval)."""
        ...

    def delivery(self, terms: Terms) -> tuple[bytes, bytes]:
        """The stored forms of an imbalance transaction on these terms: the party's view, the
        balancing party's."""
        ...


@dataclass(frozen=True)
class SettleContext:
    actor: str  # operator:settle, or operator:serve for the scheduled runs
    run_id: str
    now: datetime
    market: MarketContext
    forms: SettlementForms


def settle_market(cmd: Settle, uow, ctx: SettleContext) -> Settled:
    market = ctx.market
    if market.balancing_party_id is None:
        raise InvalidValueError(f"Market context {market.uri!r} names no balancing party (market-context set --balancing-party)")
    grace = market.grace
    every = settlement_intervals(cmd.window, market.settlement_step, market.tz)
    intervals = [interval for interval in every if interval.end + grace <= ctx.now]
    uow.audit.act_as(ctx.actor, ctx.run_id, ctx.now)
    if not intervals:
        return Settled(ctx.run_id, (), (), (), 0, len(every))
    uow.settlements.lock(market.uri)
    window = Interval(intervals[0].start, intervals[-1].end)
    wanted = set(intervals)
    delivered = {}
    for party_id, node, start, end, net_kwh in uow.deliveries.net_delivered(market.uri, window.start, window.end):
        interval = Interval(start, end)
        if interval in wanted:
            delivered[(party_id, node, interval)] = net_kwh
    positions = uow.settlements.position_energy(market.uri, intervals)
    price_of = _prices(uow, ctx, window, intervals)
    outcome = settle(delivered, positions, price_of, market.balancing_party_id)
    booked = []
    for first in range(0, len(outcome.imbalances), CHUNK):
        booked += _book(uow, ctx, outcome.imbalances[first:first + CHUNK])
    settled = Settled(
        ctx.run_id, tuple(intervals), tuple((b.transaction_id, b.imbalance) for b in booked),
        tuple(outcome.unsettled), outcome.balanced, len(every) - len(intervals),
    )
    uow.audit.record(audit.SETTLEMENT_RUN, Subject(market.balancing_party_id), _run_details(cmd, settled, market))
    return settled


def _book(uow, ctx: SettleContext, imbalances) -> list:
    """One chunk of imbalance transactions, their position changes and audit rows, sent at
    once (bounded statements; one huge message costs more than its pieces). Still one database
    transaction: the chunks' changes are of past instants, which no request writes, so they
    cannot deadlock with one."""
    market = ctx.market
    booked = uow.settlements.book(
        market.uri, market.currency, market.balancing_party_id, ctx.run_id, imbalances, ctx.forms.delivery, ctx.now
    )
    changes = []
    for entry in booked:
        changes += changes_for_transaction(entry.imbalance.party_id, market.balancing_party_id, entry.terms)
        details = dict(
            audit.terms_details(entry.terms),
            delivered_kwh=audit.amount(entry.imbalance.delivered_kwh),
            position_kwh=audit.amount(entry.imbalance.position_kwh),
            price_source=entry.imbalance.price.source,
            settlement=True,
        )
        subject = Subject(entry.imbalance.party_id, market.balancing_party_id, transaction_id=entry.transaction_id)
        uow.audit.record(audit.TRANSACTION_CREATED, subject, details)
    uow.positions.apply(changes)  # in key order, as every handler
    uow.audit.copy_pending()
    uow.flush()
    return booked


def _prices(uow, ctx: SettleContext, window: Interval, intervals: list[Interval]):
    """price_of(interface, interval): the balancing party's quoted price (the real-time price
    rule), else the market context's last trade price of that interval, else None."""
    market = ctx.market
    grace = market.grace
    quoted: dict[tuple, list[PricePoint]] = defaultdict(list)
    for row in uow.settlements.quotes(market.balancing_party_id, market.uri, window, window.end + grace):
        for terms in ctx.forms.quoted_prices(row.product_xml, market):
            if market.currency is not None and terms.currency not in (None, market.currency):
                continue
            for interval in intervals:
                covered = terms.interval.start <= interval.start and interval.end <= terms.interval.end
                cancelled_in_time = row.cancelled_at is not None and row.cancelled_at <= interval.end + grace
                if covered and not cancelled_in_time:
                    point = PricePoint(row.published_at, terms.price_per_kwh, f"quote:{row.quote_id}", terms.currency)
                    quoted[(terms.interface.delivery_node, interval)].append(point)
    traded = uow.settlements.trade_prices(market.uri, market.currency, window)

    def price_of(interface: str, interval: Interval) -> PricePoint | None:
        found = real_time_price(quoted.get((interface, interval), ()), interval, grace)
        if found is None and (interface, interval) in traded:
            number, last, currency = traded[(interface, interval)]
            found = PricePoint(interval.end, last, f"trade-{number}", currency or None)
        return found

    return price_of


def _run_details(cmd: Settle, settled: Settled, market: MarketContext) -> dict:
    unread = sum(1 for u in settled.unsettled if u.reason == "no reading")
    return {
        "market_context": cmd.market_context,
        "from": audit.instant(cmd.window.start),
        "to": audit.instant(cmd.window.end),
        "intervals": len(settled.intervals),
        "transactions": len(settled.transactions),
        "balanced": settled.balanced,
        "no_reading": unread,
        "no_price": len(settled.unsettled) - unread,
        "pending": settled.pending,
        "balancing_party": market.balancing_party_id,
    }
