"""A REP's dynamic pricing, run against a real server: ``temix demo`` and
``examples/rep_dynamic_pricing.py``.

One delivery day (default: tomorrow, UTC), in a market context of its own:

1. The operator registers the market context and four parties with ``temix`` admin commands.
   Registering parties is an operator action, not a SOAP one, so the demo must reach the
   server's database and key: the same ``--data-dir`` (or ``DATABASE_URL`` and
   ``TEMIX_SECRET_KEY_FILE``) as the server. Every name ends with a run id, so the demo can
   run again and again against one server.
2. The REP distributes (EiDistributeTender) 24 hourly sell tenders at a daily price shape, and
   24 buy tenders a spread below them: a two-sided retail price. The customers share each
   tender, first come first served.
3. The REP offers the thermostat a price cap: a call option on the evening hours
   (EiCreateTender with an emix:emixOption).
4. Three customer agents, each with its own zeep clients, read the tenders (EiRequestTender)
   and accept what their strategy wants (EiCreateTransaction, part of the tendered rate):

   * thermostat: 2 kW in every hour cheaper than its threshold, and always in the comfort
     hours the cap covers; it buys the cap (accepts the option, paying its premium) if the
     cap saves more than it costs, and exercises it (EiExerciseOption) in the hours whose
     tender is above the strike instead of accepting the tender;
   * battery: buys 5 kW in the 4 cheapest hours and sells 5 kW in the 3 dearest ones, by
     accepting the REP's buy tenders (accepting a buy tender makes the acceptor the seller);
   * EV charger: 30 kWh before 07:00, at most 7.2 kW, in the cheapest hours first.

5. Each party's positions (EiRequestPosition over the day, PT1H) and costs are printed, and
   each party's position profile is drawn to ``OUT/<party>.png``.

Why buy tenders for the battery rather than a tender of its own to the REP: with a two-sided
price every customer only reads and accepts, the REP needs no acceptance policy of its own,
and the TeMIX rule does the rest (the acceptor takes the opposite side of a tender).

The options step is reported and skipped, not fatal, when the server does not support options.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

from service.config import REPO_ROOT

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


class DemoError(RuntimeError):
    """A step of the scenario the server refused, with what was sent and what came back."""


@dataclass(frozen=True)
class Offer:
    """A standing tender as a customer sees it."""

    tender_id: str
    side: str
    start: datetime
    duration: str
    quantity: Decimal
    price: Decimal | None  # None for an option (its price is the premium)
    option: dict | None = None  # the emixOption terms, as read

    def hour(self, day_start: datetime) -> int:
        return int((self.start - day_start) / HOUR)


@dataclass
class DemoResult:
    day: date
    market_context: str
    parties: dict[str, str]  # role -> party ID
    hourly_kw: dict[str, list[Decimal]] = field(default_factory=dict)  # role -> 24 rates, sells +
    values: dict[str, Decimal] = field(default_factory=dict)  # role -> energy revenue less cost
    premiums: dict[str, Decimal] = field(default_factory=dict)  # role -> premiums received less paid
    plots: dict[str, Path] = field(default_factory=dict)
    options: str = "not tried"  # "exercised ...", or why not
    exercised_hours: list[int] = field(default_factory=list)


# --- strategies: hour -> price in, hour -> kW out ------------------------------------------


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


# --- the operator: temix admin commands ----------------------------------------------------


class Operator:
    """Runs ``python -m service.cli ... [--data-dir DIR]`` beside the running server."""

    def __init__(self, data_dir: str | Path | None, env: dict[str, str] | None):
        self.data_dir = Path(data_dir) if data_dir else None
        self.env = dict(os.environ if env is None else env)
        self.env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), self.env.get("PYTHONPATH")]))

    def temix(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "service.cli", *args]
        command += ["--data-dir", str(self.data_dir)] if self.data_dir else []
        return subprocess.run(command, check=False, input=stdin, capture_output=True, text=True, env=self.env,
                              cwd=self.data_dir or None, timeout=300)

    def must(self, *args: str, stdin: str = "") -> str:
        done = self.temix(*args, stdin=stdin)
        if done.returncode != 0:
            raise DemoError(f"temix {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
        return done.stdout.strip()

    def add_market_context(self, uri: str) -> str:
        """With the option terms if this temix knows them; what it said."""
        base = ("market-context", "add", uri, "--currency", CURRENCY, "--energy-unit", "kWh")
        done = self.temix(*base, "--option-lead-time", "PT1H", "--option-granularity", "PT1H")
        if done.returncode == 2 and "unrecognized arguments" in done.stderr:
            return self.must(*base) + " (this temix has no option terms)"
        if done.returncode != 0:
            raise DemoError(f"temix market-context add {uri} failed: {done.stderr.strip()}")
        return done.stdout.strip()

    def add_party(self, party_id: str, password: str, market_context: str) -> str:
        return self.must("party", "add", party_id, "--password-stdin", "--market-context", market_context,
                         stdin=password + "\n")


# --- the parties: zeep clients ---------------------------------------------------------------


def _new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def _ok(reply, what: str, sent: dict) -> None:
    code = reply.eiResponse.responseCode
    if code != "200":
        raise DemoError(f"{what}: sent {_brief(sent)}; got {code} {reply.eiResponse.responseDescription}")


def _brief(sent: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in sent.items() if k in ("partyID", "counterPartyID", "requestID"))


class Agent:
    """A party with its own zeep clients: WS-Security PasswordDigest, SubstitutionPlugin."""

    def __init__(self, base_url: str, party_id: str, password: str, market_context: str):
        # zeep is imported here, not at the top: `temix` imports this module to build its parser.
        import zeep
        from zeep.wsse.username import UsernameToken

        from service.client import SubstitutionPlugin

        self.party_id, self.market_context = party_id, market_context
        self.tenders, self.transactions = (
            zeep.Client(f"{base_url}/{endpoint}?wsdl", settings=zeep.Settings(strict=True),
                        wsse=UsernameToken(party_id, password, use_digest=True), plugins=[SubstitutionPlugin()])
            for endpoint in ("EiTender", "EiTransaction")
        )

    def _call(self, client, operation: str, **body):
        body = {"requestID": _new_id("req"), "partyID": self.party_id, **body}
        reply = getattr(client.service, operation)(**body)
        _ok(reply, f"{operation} by {self.party_id}", body)
        return reply

    def product(self, client, *, start: datetime, duration: str, side: str, state: str, quantity: Decimal,
                price: Decimal | None = None, option: dict | None = None, expires: datetime | None = None):
        """An emix:product (power at NODE), or an emix:emixOption on it when ``option`` is given."""
        from service.client import substitute

        power = substitute(
            client, "power:temixPower", emixInterface=substitute(client, "power:pnode", node=NODE),
            price=None if price is None else {"value": price}, quantity=quantity,
            powerItem=substitute(client, "power:powerReal", itemDescription="RealPower", itemUnits="W",
                                 siScaleCode="k", powerAttributes={"hertz": 60, "voltage": 240, "ac": True}),
        )
        common = {"dtStart": {"dateTime": start}, "duration": duration, "streamPayloadBase": power,
                  "uid": _new_id("product"), "transactiveState": state, "expirationDate": expires,
                  "currency": CURRENCY, "marketContext": self.market_context, "side": side}
        if option is None:
            return substitute(client, "emix:product", **common)
        return substitute(client, "emix:emixOption", **common, **option)

    def distribute(self, offers: list[tuple[str, object]]) -> int:
        """EiDistributeTender; how many parties it reached."""
        reply = self._call(self.tenders, "EiDistributeTender",
                           eiTender=[{"tenderID": t, "emixBase": p} for t, p in offers])
        return int(reply.recipientCount)

    def create_tender(self, counterparty: str, tender_id: str, product) -> None:
        self._call(self.tenders, "EiCreateTender", counterPartyID=counterparty,
                   eiTender=[{"tenderID": tender_id, "emixBase": product}])

    def standing_offers(self, maker: str) -> list[Offer]:
        """EiRequestTender: the maker's standing tenders in our market context."""
        reply = self._call(self.tenders, "EiRequestTender", requestorPartyID=self.party_id,
                           counterPartyID=[maker], marketContext=[self.market_context])
        return [_offer(t) for t in reply.eiTender or ()]

    def accept(self, maker: str, taken: list[tuple[Offer, Decimal]]) -> list[str]:
        """EiCreateTransaction: each offer for the given rate, on the opposite side, all or none."""
        if not taken:
            return []
        items = []
        for offer, kw in taken:
            other = "buy" if offer.side == "sell" else "sell"
            product = self.product(self.transactions, start=offer.start, duration=offer.duration, side=other,
                                   state="transaction", quantity=kw, price=offer.price, option=offer.option)
            items.append({"transactionID": _new_id("txn"), "tenderID": offer.tender_id, "emixBase": product})
        reply = self._call(self.transactions, "EiCreateTransaction", counterPartyID=maker, eiTransaction=items)
        return list(reply.transactionID)

    def exercise(self, writer: str, option_transaction_id: str, calls: list[tuple[datetime, Decimal]]) -> list[str]:
        """EiExerciseOption: one PT1H sub-interval per call."""
        exercises = [{"transactionID": _new_id("call"), "dtStart": {"dateTime": start}, "duration": "PT1H",
                      "quantity": kw} for start, kw in calls]
        reply = self._call(self.transactions, "EiExerciseOption", counterPartyID=writer,
                           optionTransactionID=option_transaction_id, exercise=exercises)
        return list(reply.transactionID or ())

    def positions(self, day_start: datetime) -> list:
        reply = self._call(self.transactions, "EiRequestPosition", requestorPartyID=self.party_id,
                           marketContext=[self.market_context],
                           window={"dtStart": {"dateTime": day_start}, "duration": "PT24H"}, resolution="PT1H")
        return list(reply.position or ())

    def option_transactions(self) -> list:
        reply = self._call(self.transactions, "EiRequestTransaction", requestorPartyID=self.party_id,
                           marketContext=[self.market_context])
        return [t for t in reply.eiTransaction or () if type(t.emixBase).__name__ == "EmixOptionType"]


def _offer(tender) -> Offer:
    base = tender.emixBase
    power = base.streamPayloadBase
    option = None
    if type(base).__name__ == "EmixOptionType":
        option = {"optionHolderSide": base.optionHolderSide, "optionPremium": {"value": base.optionPremium.value},
                  "optionStrikePrice": {"value": base.optionStrikePrice.value}, "optionType": base.optionType}
    price = power.price.value if option is None and power.price is not None else None
    return Offer(tender.tenderID, base.side, base.dtStart.dateTime, str(base.duration),
                 Decimal(str(power.quantity)), price, option)


# --- the scenario ----------------------------------------------------------------------------


def main(base_url: str, *, out_dir: str | Path = "demo-out", data_dir: str | Path | None = None,
         day: date | None = None, env: dict[str, str] | None = None) -> DemoResult:
    """Run the scenario against the server at ``base_url``; ``data_dir`` (and ``env``'s
    DATABASE_URL / TEMIX_SECRET_KEY_FILE) must be the server's, for the ``temix`` commands."""
    day = day or datetime.now(UTC).date() + timedelta(days=1)
    day_start = datetime.combine(day, time(0), UTC)
    run = uuid.uuid4().hex[:8]
    market_context = f"http://market.example.com/temix/demo-{run}"
    result = DemoResult(day, market_context, {role: f"{role}-{run}" for role in ROLES})
    ids = result.parties
    print(f"TeMIX demo {run}: a REP's dynamic prices for {day} (UTC), server {base_url}")
    _check_server(base_url)

    operator = Operator(data_dir, env)
    print(f"  operator: {operator.add_market_context(market_context)}")
    passwords = {role: secrets.token_urlsafe(18) for role in ROLES}
    for role in ROLES:
        print(f"  operator: {operator.add_party(ids[role], passwords[role], market_context)}")
    agents = {role: Agent(base_url, ids[role], passwords[role], market_context) for role in ROLES}

    reached = _publish_prices(agents["rep"], day_start)
    print(f"  {ids['rep']}: distributed 24 sell and 24 buy tenders of {TENDER_KW} kW to {reached} parties")
    if _offer_cap(agents["rep"], ids["thermostat"], day_start, result):
        print(f"  {ids['rep']}: offered {ids['thermostat']} a {THERMOSTAT_KW} kW call option at strike"
              f" {CAP_STRIKE}, premium {CAP_PREMIUM} per kWh, {COMFORT_HOURS.start}:00-{COMFORT_HOURS.stop}:00")
    _run_thermostat(agents["thermostat"], ids["rep"], day_start, result)
    _run_battery(agents["battery"], ids["rep"], day_start)
    _run_ev_charger(agents["ev-charger"], ids["rep"], day_start)
    _report(agents, day_start, Path(out_dir), result)
    return result


def _check_server(base_url: str) -> None:
    """Before registering anybody: is a temix server answering there?"""
    import requests

    try:
        answer = requests.get(f"{base_url}/health", timeout=10)
    except requests.RequestException as error:
        raise DemoError(f"no server at {base_url}: {error}") from error
    if answer.status_code != 200:
        raise DemoError(f"{base_url}/health answered {answer.status_code}: is it a temix server?")


def _publish_prices(rep: Agent, day_start: datetime) -> int:
    """Two EiDistributeTender requests of 24 hourly tenders each: sells, then buy-backs."""
    reached = 0
    for side, spread in (("sell", Decimal(0)), ("buy", BUY_BACK_SPREAD)):
        offers = []
        for hour, price in enumerate(SELL_PRICES):
            start = day_start + hour * HOUR
            offers.append((_new_id(f"{side}-{hour:02d}"), rep.product(
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
                           thermostat, _new_id("cap"), product)
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


# --- the outcome: positions, costs, plots ------------------------------------------------------


def _report(agents: dict[str, Agent], day_start: datetime, out_dir: Path, result: DemoResult) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for role, agent in agents.items():
        hourly, value = [Decimal(0)] * 24, Decimal(0)
        for position in agent.positions(day_start):
            if position.productKind != "energy" or position.emixInterface.node != NODE:
                continue
            for step in position.step or ():
                hourly[int((step.dtStart.dateTime - day_start) / HOUR)] += step.rate
                value += step.value
        result.hourly_kw[role], result.values[role] = hourly, value
        result.premiums[role] = _premiums(agent)
        result.plots[role] = _plot(agent.party_id, day_start, hourly, out_dir / f"{agent.party_id}.png")
    print()
    print(f"Positions, kW at {NODE} (sells positive, buys negative), from EiRequestPosition PT1H:")
    print(positions_table(result))
    print()
    print(f"Costs, {CURRENCY}: value = revenue less cost of the energy; premium = option premiums received less"
          " paid;\nbought and sold = the hourly net positions; per kWh = what a pure buyer paid, premium included:")
    print(costs_table(result))
    print()
    print(f"Options: {result.options}")
    print("Plots: " + ", ".join(str(path) for path in result.plots.values()))


def _premiums(agent: Agent) -> Decimal:
    """Premiums received less paid: each option transaction's premium (per kWh) times its
    rate and duration, received by the seller of the option, paid by its buyer."""
    from service.domain.intervals import parse_resolution

    total = Decimal(0)
    for transaction in agent.option_transactions():
        option = transaction.emixBase
        hours = Decimal(parse_resolution(str(option.duration)).total_seconds()) / 3600
        amount = option.optionPremium.value * Decimal(str(option.streamPayloadBase.quantity)) * hours  # xs:float
        total += amount if option.side == "sell" else -amount
    return total


def positions_table(result: DemoResult) -> str:
    roles = list(result.hourly_kw)
    header = f"{'hour':<6} {'sell':>6} {'buy':>6}" + "".join(f" {role:>11}" for role in roles)
    lines = [header, "-" * len(header)]
    for hour, price in enumerate(SELL_PRICES):
        lines.append(f"{hour:02d}:00  {price:>6} {price - BUY_BACK_SPREAD:>6}"
                     + "".join(f" {result.hourly_kw[role][hour]:>11.3f}" for role in roles))
    lines.append(f"{'kWh':<20}" + "".join(f" {sum(result.hourly_kw[role]):>11.3f}" for role in roles))
    return "\n".join(lines)


def costs_table(result: DemoResult) -> str:
    header = f"{'party':<22} {'bought kWh':>10} {'sold kWh':>9} {'value':>9} {'premium':>8} {'net':>9} {'per kWh':>8}"
    lines = [header, "-" * len(header)]
    for role, hourly in result.hourly_kw.items():
        bought = sum((-r for r in hourly if r < 0), Decimal(0))
        sold = sum((r for r in hourly if r > 0), Decimal(0))
        value, premium = result.values[role], result.premiums[role]
        net = value + premium
        average = f"{-net / bought:.4f}" if bought and not sold else "-"
        lines.append(f"{result.parties[role]:<22} {bought:>10.3f} {sold:>9.3f} {value:>9.4f} {premium:>8.4f}"
                     f" {net:>9.4f} {average:>8}")
    return "\n".join(lines)


def _plot(party_id: str, day_start: datetime, hourly: list[Decimal], path: Path) -> Path:
    """Bars of the hourly position (sells up, buys down) over the REP's sell price."""
    import matplotlib

    matplotlib.use("Agg")  # no screen: render to a file
    import matplotlib.pyplot as plt

    figure, rates = plt.subplots(figsize=(10, 4))
    hours = range(24)
    rates.bar(hours, [float(r) for r in hourly], width=0.9, align="edge",
              color=["tab:green" if r > 0 else "tab:red" for r in hourly])
    rates.axhline(0, color="grey", linewidth=0.5)
    rates.set_xlim(0, 24)
    rates.set_xticks(range(0, 25, 3), [f"{h:02d}:00" for h in range(0, 25, 3)])
    rates.set_xlabel(f"{day_start:%Y-%m-%d} (UTC)")
    rates.set_ylabel("position, kW (sells +, buys -)")
    prices = rates.twinx()
    prices.step(list(hours) + [24], [float(p) for p in SELL_PRICES] + [float(SELL_PRICES[-1])],
                where="post", color="tab:blue", linewidth=1)
    prices.set_ylabel(f"REP sell price, {CURRENCY}/kWh", color="tab:blue")
    rates.set_title(f"Position of {party_id} at {NODE}")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


# --- command line: `temix demo` and examples/rep_dynamic_pricing.py ---------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="the running server (default %(default)s)")
    parser.add_argument("--out", default="demo-out", metavar="DIR", help="folder for the PNG plots (default %(default)s)")
    parser.add_argument("--day", type=date.fromisoformat, metavar="YYYY-MM-DD",
                        help="delivery day, UTC (default: tomorrow)")


def run_command(args: argparse.Namespace, settings, stdin=None) -> int:
    """``temix demo``: the parties go into the database of ``settings`` (--data-dir, DATABASE_URL)."""
    from service.cli_common import CommandError

    try:
        result = main(args.url, out_dir=args.out, data_dir=settings.data_dir, day=args.day)
    except DemoError as error:
        raise CommandError(str(error)) from error
    return 1 if result.options.startswith("failed") else 0
