"""The demo's market and its customers' strategies: hour -> price in, hour -> kW out. Plain
Python, no I/O."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

CURRENCY = "USD"
NODE = "DEMO-FEEDER-1"
HOUR = timedelta(hours=1)
# The REP's sell price by hour of the day (UTC), USD per kWh: cheap at night, dear 17:00-21:00.
SELL_PRICES = tuple(Decimal(p) for p in (
    "0.090", "0.085", "0.080", "0.078", "0.082", "0.095", "0.120", "0.150",
    "0.170", "0.150", "0.130", "0.125", "0.120", "0.122", "0.128", "0.140",
    "0.180", "0.240", "0.320", "0.340", "0.290", "0.200", "0.140", "0.110",
))
BUY_BACK_SPREAD = Decimal("0.030")  # the REP buys at its sell price less this
TENDER_KW = Decimal(50)  # each hourly tender, shared by all customers

THERMOSTAT_KW = Decimal(2)
THERMOSTAT_THRESHOLD = Decimal("0.13")  # heats when the price is below this ...
COMFORT_HOURS = range(17, 21)  # ... and always in these hours, which the cap covers
CAP_STRIKE = Decimal("0.25")
CAP_PREMIUM = Decimal("0.01")  # per kWh of the cap's rate over its whole interval
BATTERY_KW, BATTERY_CHARGE_HOURS, BATTERY_DISCHARGE_HOURS = Decimal(5), 4, 3
EV_NEED_KWH, EV_MAX_KW, EV_READY_HOUR = Decimal(30), Decimal("7.2"), 7

ROLES = ("rep", "thermostat", "battery", "ev-charger")


def thermostat_plan(sell: dict[int, Decimal], strike: Decimal | None) -> tuple[dict, dict]:
    """(hours bought at the tender, hours called on the cap), each hour -> kW."""
    wanted = {h for h, price in sell.items() if price < THERMOSTAT_THRESHOLD} | set(COMFORT_HOURS)
    called = {h for h in COMFORT_HOURS if strike is not None and sell.get(h, strike) > strike}
    return ({h: THERMOSTAT_KW for h in sorted(wanted - called) if h in sell},
            {h: THERMOSTAT_KW for h in sorted(called)})


def cap_is_worth_it(sell: dict[int, Decimal], strike: Decimal, premium: Decimal, hours: int) -> bool:
    saving = sum((max(sell[h] - strike, Decimal(0)) for h in COMFORT_HOURS if h in sell), Decimal(0))
    return saving > premium * hours


def battery_plan(sell: dict[int, Decimal], buy_back: dict[int, Decimal]) -> tuple[dict, dict]:
    """(hours to charge, hours to discharge), each hour -> kW."""
    charge = sorted(sell, key=sell.get)[:BATTERY_CHARGE_HOURS]
    discharge = [h for h in sorted(buy_back, key=buy_back.get, reverse=True) if h not in charge]
    return ({h: BATTERY_KW for h in sorted(charge)},
            {h: BATTERY_KW for h in sorted(discharge[:BATTERY_DISCHARGE_HOURS])})


def ev_plan(sell: dict[int, Decimal]) -> dict[int, Decimal]:
    """The cheapest hours before EV_READY_HOUR, each at most EV_MAX_KW, until EV_NEED_KWH."""
    plan, missing = {}, EV_NEED_KWH
    for h in sorted((h for h in sell if h < EV_READY_HOUR), key=sell.get):
        if missing <= 0:
            break
        plan[h] = min(EV_MAX_KW, missing)  # one hour: kW = kWh
        missing -= plan[h]
    return dict(sorted(plan.items()))

