"""The demo's delivery day (operator form): the devices' meters report what they actually used,
close to but not exactly their positions; the REP, as the market context's balancing party,
publishes real-time prices; settlement runs; each party's statement is printed and its
position drawn against its delivery.

The demo's day is still ahead when it runs (trading closes when delivery starts), so the meter
readings are simulated and settlement runs ``--as-of`` the end of the day.
"""

from __future__ import annotations

import random
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from service.demo.parties import Agent, Operator, _client, _ok, new_id
from service.demo.report import DemoResult
from service.demo.strategies import HOUR, NODE, SELL_PRICES

RT_MARKUP = Decimal("1.2")  # real-time prices: the REP's day-ahead price plus a fifth
METER_SPREAD = Decimal("0.1")  # a meter reads up to a tenth off the position
IDLE_KWH = Decimal("0.3")  # at most, in an hour a device holds no position


def delivery_day(base_url: str, agents: dict[str, Agent], passwords: dict[str, str], operator: Operator,
                 day_start: datetime, out_dir: Path, result: DemoResult, seed: int = 14) -> None:
    rep = agents["rep"]
    market, day_end = result.market_context, day_start + 24 * HOUR
    print()
    print("Delivery day:")
    operator.must("market-context", "set", market, "--balancing-party", rep.party_id, "--price-grace", "PT5M")
    print(f"  operator: {rep.party_id} is the balancing party of {market}")
    _publish_real_time_prices(base_url, rep, passwords["rep"], day_start)
    print(f"  {rep.party_id}: published 24 real-time prices (its day-ahead prices x {RT_MARKUP})")
    meters = out_dir / "meter-readings.csv"
    count = _write_readings(meters, result, day_start, random.Random(seed))
    print(f"  meters: {count} hourly readings ({meters}); {operator.must('delivery', 'import', str(meters)).splitlines()[-1]}")
    settled = operator.must("settle", "--market-context", market, "--from", _iso(day_start), "--to", _iso(day_end),
                            "--as-of", _iso(day_end + HOUR))
    print("  " + settled.splitlines()[0])
    for role, party_id in result.parties.items():
        plot = out_dir / f"statement-{party_id}.png"
        shown = operator.must("statement", party_id, "--from", _iso(day_start), "--to", _iso(day_end), "--plot", str(plot))
        print()
        print("\n".join(line for line in shown.splitlines() if not line.startswith("plot written")))
        result.plots[f"{role} statement"] = plot


def _publish_real_time_prices(base_url: str, rep: Agent, password: str, day_start: datetime) -> None:
    """One EiCreateQuote to the market context: a product per hour, transactive state publication."""
    quotes = _client(base_url, "EiQuote", rep.party_id, password)
    products = [
        rep.product(quotes, start=day_start + hour * HOUR, duration="PT1H", side="sell", state="publication",
                    quantity=Decimal(1), price=(price * RT_MARKUP).quantize(Decimal("0.0001")))
        for hour, price in enumerate(SELL_PRICES)
    ]
    body = {"requestID": new_id("req"), "publisherPartyID": rep.party_id, "subscriberPartyID": rep.market_context,
            "eiQuote": [{"quoteID": new_id("real-time"), "emixBase": products}]}
    _ok(quotes.service.EiCreateQuote(**body), f"EiCreateQuote by {rep.party_id}", body)


def _write_readings(path: Path, result: DemoResult, day_start: datetime, rng: random.Random) -> int:
    """Each device's delivery per hour: its position's energy off by up to METER_SPREAD, or a
    little use where it holds none; to the Wh."""
    rows = ["party,market_context,interface,interval_start,duration,injection,energy_kwh"]
    for role, party_id in result.parties.items():
        if role == "rep":
            continue
        for hour, rate in enumerate(result.hourly_kw[role]):
            factor = 1 + METER_SPREAD * Decimal(rng.uniform(-1, 1))
            delivered = (rate * factor) if rate else -IDLE_KWH * Decimal(rng.random())
            kwh = abs(delivered).quantize(Decimal("0.001"))
            rows.append(f"{party_id},{result.market_context},{NODE},{_iso(day_start + hour * HOUR)},PT1H,"
                        f"{'true' if delivered > 0 else 'false'},{kwh}")
    path.write_text("\n".join(rows) + "\n")
    return len(rows) - 1


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")
