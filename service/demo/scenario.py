"""The demo's scenario, step by step, and its command line (``temix demo``,
``examples/rep_dynamic_pricing.py``)."""

from __future__ import annotations

import argparse
import secrets
import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

from service.demo.delivery import delivery_day
from service.demo.exchange import trade_on_exchange
from service.demo.parties import Agent, DemoError, Offer, Operator, Registrar, new_id
from service.demo.report import DemoResult, report
from service.demo.strategies import (
    BATTERY_KW,
    BUY_BACK_SPREAD,
    CAP_PREMIUM,
    CAP_STRIKE,
    COMFORT_HOURS,
    EV_READY_HOUR,
    HOUR,
    ROLES,
    SELL_PRICES,
    TENDER_KW,
    THERMOSTAT_KW,
    battery_plan,
    cap_is_worth_it,
    ev_plan,
    thermostat_plan,
)


# The market context of the registrar form: the server's operator registers it once.
DEMO_MARKET_CONTEXT = "http://market.example.com/temix/demo"


def main(base_url: str, *, out_dir: str | Path = "demo-out", data_dir: str | Path | None = None,
         day: date | None = None, env: dict[str, str] | None = None,
         registrar: tuple[str, str] | None = None, market_context: str | None = None) -> DemoResult:
    """Run the scenario against the server at ``base_url``.

    With ``registrar`` (ID, password) the parties are registered over SOAP, in
    ``market_context`` (default ``DEMO_MARKET_CONTEXT``), and their registrations cancelled
    at the end; the server must allow registrars' passwords. Without it, a market context of
    the run's own and the parties are added with ``temix`` commands: ``data_dir`` (and
    ``env``'s DATABASE_URL / TEMIX_SECRET_KEY_FILE) must then be the server's."""
    day = day or datetime.now(UTC).date() + timedelta(days=1)
    day_start = datetime.combine(day, time(0), UTC)
    run = uuid.uuid4().hex[:8]
    group = f"demo-{run}"  # the run's parties: the REP's tenders reach them only
    if registrar is None:
        market_context = f"http://market.example.com/temix/demo-{run}"
    else:
        market_context = market_context or DEMO_MARKET_CONTEXT
    result = DemoResult(day, market_context, {role: f"{role}-{run}" for role in ROLES})
    ids = result.parties
    print(f"TeMIX demo {run}: a REP's dynamic prices for {day} (UTC), server {base_url}")
    _check_server(base_url)

    if registrar is None:
        registry = Operator(data_dir, env)
        who = "operator"
        print(f"  operator: {registry.add_market_context(market_context)}")
    else:
        registry = Registrar(base_url, *registrar)
        who = f"registrar {registrar[0]}"
    try:
        passwords = {role: secrets.token_urlsafe(18) for role in ROLES}
        for role in ROLES:
            print(f"  {who}: {registry.add_party(ids[role], passwords[role], market_context, group)}")
        agents = {role: Agent(base_url, ids[role], passwords[role], market_context, group) for role in ROLES}
        _trade(agents, ids, day_start, result)
        report(agents, day_start, Path(out_dir), result)
        if isinstance(registry, Operator):  # meters and settlement are the operator's
            delivery_day(base_url, agents, passwords, registry, day_start, Path(out_dir), result)
        trade_on_exchange(agents, day_start + 24 * HOUR, result)
    finally:
        registry.finish()
    return result


def _trade(agents: dict[str, Agent], ids: dict[str, str], day_start: datetime, result: DemoResult) -> None:
    reached = _publish_prices(agents["rep"], day_start)
    print(f"  {ids['rep']}: distributed 24 sell and 24 buy tenders of {TENDER_KW} kW to {reached} parties")
    if _offer_cap(agents["rep"], ids["thermostat"], day_start, result):
        print(f"  {ids['rep']}: offered {ids['thermostat']} a {THERMOSTAT_KW} kW call option at strike"
              f" {CAP_STRIKE}, premium {CAP_PREMIUM} per kWh, {COMFORT_HOURS.start}:00-{COMFORT_HOURS.stop}:00")
    _run_thermostat(agents["thermostat"], ids["rep"], day_start, result)
    _run_battery(agents["battery"], ids["rep"], day_start)
    _run_ev_charger(agents["ev-charger"], ids["rep"], day_start)


def _check_server(base_url: str) -> None:
    """Before registering anybody: is a temix server answering there?"""
    import requests

    try:
        answer = requests.get(f"{base_url}/health", timeout=10)
    except requests.RequestException as error:
        raise DemoError(
            f"no server answers at {base_url} ({type(error).__name__}). Start one in another terminal with"
            " scripts/serve.sh (or: temix serve --data-dir DIR --port PORT) and give its address with --url"
        ) from error
    if answer.status_code != 200:
        raise DemoError(f"{base_url}/health answered {answer.status_code}: is it a temix server?")


def _publish_prices(rep: Agent, day_start: datetime) -> int:
    """Two EiDistributeTender requests of 24 hourly tenders each: sells, then buy-backs."""
    reached = 0
    for side, spread in (("sell", Decimal(0)), ("buy", BUY_BACK_SPREAD)):
        offers = []
        for hour, price in enumerate(SELL_PRICES):
            start = day_start + hour * HOUR
            offers.append((new_id(f"{side}-{hour:02d}"), rep.product(
                rep.tenders, start=start, duration="PT1H", side=side, state="tender",
                quantity=TENDER_KW, price=price - spread, expires=start)))
        reached = max(reached, rep.distribute(offers))
    return reached


def _offer_cap(rep: Agent, thermostat: str, day_start: datetime, result: DemoResult) -> bool:
    start = day_start + COMFORT_HOURS.start * HOUR
    option = {"optionHolderSide": "buy", "optionPremium": {"value": CAP_PREMIUM},
              "optionStrikePrice": {"value": CAP_STRIKE}, "optionType": "call"}
    product = rep.product(rep.tenders, start=start, duration=f"PT{len(COMFORT_HOURS)}H", side="sell",
                          state="tender", quantity=THERMOSTAT_KW, option=option, expires=day_start)
    done, _ = _option_step("EiCreateTender (emixOption)", result, rep.create_tender,
                           thermostat, new_id("cap"), product)
    result.options = "offered" if done else result.options
    return done


def _option_step(step: str, result: DemoResult, action, *args) -> tuple[bool, object]:
    """Run an options step: (True, its answer), or (False, None) having said clearly why not,
    so that the scenario goes on without options."""
    from zeep.exceptions import Fault

    try:
        return True, action(*args)
    except (Fault, DemoError) as error:
        text = f"SOAP Fault {error.code}: {error.message}" if isinstance(error, Fault) else str(error)
        unsupported = (  # no such operation, or a 400 saying options are not supported
            isinstance(error, Fault) and ("SoapEnvelope" in str(error.code) or "operation" in text.lower())
        ) or (" 400 " in text and "option" in text.lower())
        result.options = f"{'unsupported' if unsupported else 'failed'} at {step}: {text}"
        print(f"  !! options {result.options}; the demo goes on without them")
        return False, None


def _hourly(offers: list[Offer], side: str, day_start: datetime) -> dict[int, Offer]:
    return {o.hour(day_start): o for o in offers
            if o.option is None and o.side == side and o.duration == "PT1H" and 0 <= o.hour(day_start) < 24}


def _prices(offers: dict[int, Offer]) -> dict[int, Decimal]:
    return {hour: offer.price for hour, offer in offers.items()}


def _hours(plan: dict[int, Decimal]) -> str:
    return ", ".join(f"{h:02d}:00" for h in plan) or "no hour"


def _run_thermostat(agent: Agent, rep: str, day_start: datetime, result: DemoResult) -> None:
    offers = agent.standing_offers(rep)
    standing = _hourly(offers, "sell", day_start)
    sells = _prices(standing)
    cap = next((o for o in offers if o.option is not None and o.option["optionType"] == "call"), None)
    strike = held = None
    if cap is None and result.options == "offered":
        result.options = "failed: the thermostat does not see the option tender the REP made"
    elif cap is not None:
        strike = cap.option["optionStrikePrice"]["value"]
        if not cap_is_worth_it(sells, strike, cap.option["optionPremium"]["value"], len(COMFORT_HOURS)):
            result.options, strike = "declined: the cap would cost more than it saves", None
        else:
            done, held = _option_step("EiCreateTransaction (emixOption)", result, agent.accept, rep,
                                      [(cap, cap.quantity)])
            if done:
                result.options = "held, no hour above the strike"
            else:
                strike = None
    buy, call = thermostat_plan(sells, strike)
    if call:
        calls = [(day_start + h * HOUR, kw) for h, kw in call.items()]
        done, _ = _option_step("EiExerciseOption", result, agent.exercise, rep, held[0], calls)
        if done:
            result.options = f"exercised in {_hours(call)} at strike {strike}"
            result.exercised_hours = sorted(call)
            result.exercised_kw = dict(sorted(call.items()))
            result.option_roles = {"thermostat": "holder", "rep": "writer"}
        else:
            buy, call = thermostat_plan(sells, None)  # no cap after all: the tenders, then
    agent.accept(rep, [(standing[h], kw) for h, kw in buy.items()])
    print(f"  {agent.party_id}: bought {THERMOSTAT_KW} kW in {_hours(buy)}"
          + (f"; called the cap in {_hours(call)}" if call else ""))


def _run_battery(agent: Agent, rep: str, day_start: datetime) -> None:
    offers = agent.standing_offers(rep)
    sells, buys = _hourly(offers, "sell", day_start), _hourly(offers, "buy", day_start)
    charge, discharge = battery_plan(_prices(sells), _prices(buys))
    # Accepting a buy tender makes the battery the seller.
    agent.accept(rep, [(sells[h], kw) for h, kw in charge.items()]
                 + [(buys[h], kw) for h, kw in discharge.items()])
    print(f"  {agent.party_id}: bought {BATTERY_KW} kW in {_hours(charge)};"
          f" sold {BATTERY_KW} kW in {_hours(discharge)}")


def _run_ev_charger(agent: Agent, rep: str, day_start: datetime) -> None:
    sells = _hourly(agent.standing_offers(rep), "sell", day_start)
    plan = ev_plan(_prices(sells))
    agent.accept(rep, [(sells[h], kw) for h, kw in plan.items()])
    charged = ", ".join(f"{h:02d}:00 {kw} kW" for h, kw in plan.items())
    print(f"  {agent.party_id}: charges {sum(plan.values())} kWh before {EV_READY_HOUR:02d}:00: {charged}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="the running server (default %(default)s)")
    parser.add_argument("--out", default="demo-out", metavar="DIR", help="folder for the PNG plots (default %(default)s)")
    parser.add_argument("--day", type=date.fromisoformat, metavar="YYYY-MM-DD",
                        help="delivery day, UTC (default: tomorrow)")
    parser.add_argument("--registrar", metavar="ID",
                        help="register the parties over SOAP as this registrar (`temix party add-registrar`"
                        " prints one), instead of with temix commands on the server's data folder")
    parser.add_argument("--registrar-password-stdin", action="store_true",
                        help="read the registrar's password from standard input (else env TEMIX_REGISTRAR_PASSWORD)")
    parser.add_argument("--market-context", metavar="URI",
                        help=f"with --registrar: the market context to trade in (default {DEMO_MARKET_CONTEXT};"
                        " the server's operator registers it, with --exchange for the exchange day)")



def registrar_of(args: argparse.Namespace, stdin, environ) -> tuple[str, str] | None:
    """(ID, password) from --registrar and --registrar-password-stdin or TEMIX_REGISTRAR_PASSWORD;
    None without --registrar."""
    if not args.registrar:
        if args.registrar_password_stdin or args.market_context:
            raise DemoError("--registrar-password-stdin and --market-context go with --registrar ID")
        return None
    if args.registrar_password_stdin:
        password = stdin.read().removesuffix("\n").removesuffix("\r")
    else:
        password = environ.get("TEMIX_REGISTRAR_PASSWORD", "")
    if not password:
        raise DemoError("--registrar needs its password: --registrar-password-stdin, or TEMIX_REGISTRAR_PASSWORD")
    return args.registrar, password
