"""The demo's second day: the same parties trade through the market context's exchange.

The day after the tendered one, nobody picks tenders: the REP posts its two-sided price as
orders to the exchange (a sell and a buy order per hour, ``TENDER_KW`` each); each customer
reads the book (EiRequestBook: best prices only, no names), plans with its strategy on the
best offers and bids, and posts orders at those prices, which fill at once against the REP's
(the exchange is the counterparty of both). The demo prints each party's fills (read back
with EiRequestTransaction, the exchange as counterparty) and the trade prices the market
context publishes (EiRequestQuote), then the REP cancels what is left of its orders, so a
shared market context's books do not keep them.

A market context that runs no exchange (``temix market-context set URI --exchange`` on the
server's host starts one) is reported and skipped, like options.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from service.demo.parties import Agent, DemoError, new_id
from service.demo.strategies import (
    BUY_BACK_SPREAD,
    HOUR,
    NODE,
    SELL_PRICES,
    TENDER_KW,
    battery_plan,
    ev_plan,
    thermostat_plan,
)


@dataclass(frozen=True)
class Fill:
    """One fill as its party reads it: the hour, the party's side, kW, price per kWh."""

    hour: int
    side: str
    quantity: Decimal
    price: Decimal


def trade_on_exchange(agents: dict[str, Agent], day_start: datetime, result) -> None:
    """The exchange day (``day_start``): orders, fills, trade prices; recorded in ``result``."""
    rep = agents["rep"]
    exchange = f"{rep.market_context}#exchange"
    print()
    print(f"Exchange day {day_start.date()} (UTC): the parties trade through {exchange}")
    orders = [(new_id(f"x-{side}-{hour:02d}"), side, hour, price - spread)
              for side, spread in (("sell", Decimal(0)), ("buy", BUY_BACK_SPREAD))
              for hour, price in enumerate(SELL_PRICES)]
    try:
        said = _post(rep, exchange, day_start, [(t, side, hour, TENDER_KW, price) for t, side, hour, price in orders])
    except DemoError as error:
        if " 404 " not in str(error):
            raise
        result.exchange = (f"skipped: {rep.market_context} runs no exchange (on the server's host:"
                           f" temix market-context set {rep.market_context} --exchange)")
        print(f"  !! exchange {result.exchange}")
        return
    print(f"  {rep.party_id}: posted 24 sell and 24 buy orders of {TENDER_KW} kW at its prices ({said})")
    for role in ("thermostat", "battery", "ev-charger"):
        _customer(agents[role], role, exchange, day_start)
    print("  Fills (EiRequestTransaction, counterparty the exchange):")
    for role, agent in agents.items():
        result.exchange_fills[role] = agent_fills = _fills(agent, exchange, day_start)
        print(f"    {agent.party_id}: {_summary(agent_fills)}")
    result.trade_prices = _trade_prices(rep, day_start)
    print(f"  Published trade prices (EiRequestQuote from {rep.market_context}), {day_start.date()}:")
    print(f"    {'hour':<6} {'last':>7} {'vwap':>9} {'kWh':>8}")
    for hour, (last, vwap, kwh) in sorted(result.trade_prices.items()):
        print(f"    {hour:02d}:00  {last:>7} {vwap:>9.4f} {_plain(kwh):>8}")
    left = _cancel_standing(rep, exchange)
    print(f"  {rep.party_id}: cancelled its {left} orders left in the book")
    fills = sum(len(found) for found in result.exchange_fills.values())
    result.exchange = f"traded: {fills} fills, {len(result.trade_prices)} hours with a trade price"


def _customer(agent: Agent, role: str, exchange: str, day_start: datetime) -> None:
    """Read the book's best prices per hour, plan, post the orders at those prices."""
    offers, bids = _best_prices(agent, day_start)
    if role == "thermostat":
        plan = {h: ("buy", kw) for h, kw in thermostat_plan(offers, None)[0].items()}
    elif role == "battery":
        charge, discharge = battery_plan(offers, bids)
        plan = {**{h: ("buy", kw) for h, kw in charge.items()}, **{h: ("sell", kw) for h, kw in discharge.items()}}
    else:
        plan = {h: ("buy", kw) for h, kw in ev_plan(offers).items()}
    orders = [(new_id(f"x-{side}-{h:02d}"), side, h, kw, offers[h] if side == "buy" else bids[h])
              for h, (side, kw) in sorted(plan.items())]
    said = _post(agent, exchange, day_start, orders) if orders else "no order"
    print(f"  {agent.party_id}: read the book (EiRequestBook), posted {len(orders)} orders ({said})")


def _post(agent: Agent, exchange: str, day_start: datetime, orders) -> str:
    """One EiCreateTender of these (tenderID, side, hour, kW, price) to the exchange; how many
    filled at once, from its response description."""
    items = [{"tenderID": tender_id, "emixBase": agent.product(
        agent.tenders, start=day_start + hour * HOUR, duration="PT1H", side=side, state="tender",
        quantity=kw, price=price)} for tender_id, side, hour, kw, price in orders]
    description = agent.create_orders(exchange, items)
    # "OK; filled at once: t1 2 of 2 kW filled in 1 fill(s); t2 0 of 5 kW filled in 0 fill(s)"
    entered = description.partition("filled at once: ")[2].split("; ")
    filled = sum(1 for part in entered if part.split(" ")[1:2] not in (["0"], []))
    return f"{filled} filled at once"


def _best_prices(agent: Agent, day_start: datetime) -> tuple[dict[int, Decimal], dict[int, Decimal]]:
    """hour -> best offer, hour -> best bid, in the demo's node, for the day."""
    offers, bids = {}, {}
    for book in agent.book(day_start):
        hour = int((book.dtStart.dateTime - day_start) / HOUR)
        if book.offer:
            offers[hour] = book.offer[0].price
        if book.bid:
            bids[hour] = book.bid[0].price
    return offers, bids


def _fills(agent: Agent, exchange: str, day_start: datetime) -> list[Fill]:
    found = []
    for transaction in agent.transactions_with(exchange):
        base = transaction.emixBase
        hour = (base.dtStart.dateTime - day_start) / HOUR
        if 0 <= hour < 24:
            power = base.streamPayloadBase
            found.append(Fill(int(hour), base.side, Decimal(str(power.quantity)), power.price.value))
    return sorted(found, key=lambda fill: (fill.hour, fill.side))


def _summary(fills: list[Fill]) -> str:
    if not fills:
        return "no fill"
    parts = []
    for side, verb in (("buy", "bought"), ("sell", "sold")):
        mine = [fill for fill in fills if fill.side == side]
        if mine:
            energy = sum((fill.quantity for fill in mine), Decimal(0))  # one hour each: kW = kWh
            low, high = min(fill.price for fill in mine), max(fill.price for fill in mine)
            hours = ", ".join(f"{h:02d}" for h in sorted({fill.hour for fill in mine}))
            parts.append(f"{verb} {_plain(energy)} kWh in {len(mine)} fills at {low}-{high} (hours {hours})")
    return "; ".join(parts)


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _trade_prices(agent: Agent, day_start: datetime) -> dict[int, tuple[Decimal, Decimal, Decimal]]:
    """hour -> (last, VWAP, traded kWh) of the demo's node, for the day."""
    found = {}
    for item in agent.trade_prices():
        products = {product.uid: product for product in item.emixBase}
        last, vwap = products.get("last"), products.get("vwap")
        if last is None or vwap is None:
            continue  # a quote, not a trade price
        hour = (last.dtStart.dateTime - day_start) / HOUR
        if 0 <= hour < 24 and str(last.duration) == "PT1H" and last.streamPayloadBase.emixInterface.node == NODE:
            found[int(hour)] = (last.streamPayloadBase.price.value, vwap.streamPayloadBase.price.value,
                                Decimal(str(vwap.streamPayloadBase.quantity)))
    return found


def _cancel_standing(agent: Agent, exchange: str) -> int:
    standing = [offer.tender_id for offer in agent.standing_offers(exchange)]  # its own, to the exchange
    if standing:
        agent.cancel(standing)
    return len(standing)
