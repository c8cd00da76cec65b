"""The demo's outcome: each party's positions and costs, printed and plotted."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from service.demo.parties import Agent
from service.demo.strategies import BUY_BACK_SPREAD, CAP_STRIKE, CURRENCY, HOUR, NODE, SELL_PRICES


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
    exercised_kw: dict[int, Decimal] = field(default_factory=dict)  # hour -> kW called on the cap
    option_roles: dict[str, str] = field(default_factory=dict)  # role -> "holder" or "writer"
    exchange: str = "not tried"  # "traded: ...", or why not (service.demo.exchange)
    exchange_fills: dict[str, list] = field(default_factory=dict)  # role -> its fills on the exchange day
    trade_prices: dict[int, tuple] = field(default_factory=dict)  # hour -> (last, VWAP, kWh), exchange day


def report(agents: dict[str, Agent], day_start: datetime, out_dir: Path, result: DemoResult) -> None:
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
        figure = plot(agent.party_id, day_start, hourly, option_flow(result, role))
        result.plots[role] = out_dir / f"{agent.party_id}.png"
        save(figure, result.plots[role])
    print()
    print(f"The REP's prices in {CURRENCY}/kWh, and each party's position in kW at {NODE} (sells positive,"
          " buys negative;\n* = with energy traded on the call option), from EiRequestPosition PT1H:")
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


def option_flow(result: DemoResult, role: str) -> dict[int, Decimal]:
    """hour -> kW this party traded by the exercise of the call option: the holder bought it
    (negative), the writer sold it (positive); empty for a party not in the option."""
    sign = {"holder": -1, "writer": 1}.get(result.option_roles.get(role, ""), 0)
    return {hour: sign * kw for hour, kw in result.exercised_kw.items()} if sign else {}


def positions_table(result: DemoResult) -> str:
    roles = list(result.hourly_kw)
    flows = {role: option_flow(result, role) for role in roles}
    price_heading = f"REP price, {CURRENCY}/kWh"
    width = 12 * len(roles)
    lines = [f"{'':<6} {price_heading:<15} {'position, kW':^{width}}",
             f"{'hour':<6} {'sell':>7} {'buy':>7} " + "".join(f"{role:>12}" for role in roles)]
    lines.append("-" * len(lines[-1]))
    for hour, price in enumerate(SELL_PRICES):
        cells = "".join(f"{result.hourly_kw[role][hour]:>11.3f}{'*' if hour in flows[role] else ' '}" for role in roles)
        lines.append(f"{hour:02d}:00  {price:>7} {price - BUY_BACK_SPREAD:>7} " + cells)
    lines.append(f"{'energy, kWh':<22}" + "".join(f"{sum(result.hourly_kw[role]):>11.3f} " for role in roles))
    return "\n".join(line.rstrip() for line in lines)


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


def plot(party_id: str, day_start: datetime, hourly: list[Decimal], option_kw: dict[int, Decimal]):
    """Above, the REP's two prices (a customer buys at the sell price and sells at the buy
    price); below, the party's hourly position as bars, sells up and buys down, with what it
    traded on the call option hatched on top of the rest. Returns the matplotlib figure."""
    from service.plotting import BUY_COLOR, OPTION_COLOR, SELL_COLOR, legend_below, pyplot, rate_limits, time_axis

    plt = pyplot()
    figure, (prices, rates) = plt.subplots(2, 1, sharex=True, figsize=(10, 6), height_ratios=(1, 2))
    starts = [day_start + hour * HOUR for hour in range(24)]
    edges = [*starts, day_start + 24 * HOUR]
    sell = [float(p) for p in SELL_PRICES]
    buy = [float(p - BUY_BACK_SPREAD) for p in SELL_PRICES]
    prices.step(edges, [*sell, sell[-1]], where="post", color="tab:blue", linewidth=1.5,
                label=f"REP sell price: customers buy at it, {CURRENCY}/kWh")
    prices.step(edges, [*buy, buy[-1]], where="post", color="tab:orange", linewidth=1.5, linestyle="--",
                label=f"REP buy price: customers sell at it, {CURRENCY}/kWh")
    if option_kw:
        hours = sorted(option_kw)
        prices.hlines(float(CAP_STRIKE), starts[hours[0]], starts[hours[-1]] + HOUR, color=OPTION_COLOR,
                      linestyle=":", linewidth=2, label=f"call option strike (paid when exercised), {CURRENCY}/kWh")
    prices.set_ylim(0, max(sell) * 1.15)
    prices.set_ylabel(f"price, {CURRENCY}/kWh")
    prices.grid(axis="y", linewidth=0.3)
    prices.set_title(f"Position of {party_id} at {NODE}")

    tendered = [float(kw - option_kw.get(hour, 0)) for hour, kw in enumerate(hourly)]
    called = [float(option_kw.get(hour, 0)) for hour in range(24)]
    bar = {"width": HOUR * 0.9, "align": "edge", "zorder": 2}
    if any(kw > 0 for kw in tendered):
        rates.bar(starts, [max(kw, 0) for kw in tendered], color=SELL_COLOR, label="sold at a tender, kW", **bar)
    if any(kw < 0 for kw in tendered):
        rates.bar(starts, [min(kw, 0) for kw in tendered], color=BUY_COLOR, label="bought at a tender, kW", **bar)
    if option_kw:
        # stacked on the tendered part of its side, so that the bar ends at all traded that way
        below = [t if (t > 0) == (c > 0) else 0 for t, c in zip(tendered, called)]
        side = "sold" if any(c > 0 for c in called) else "bought"
        exercised = [hour for hour, c in enumerate(called) if c]
        rates.bar([starts[h] for h in exercised], [called[h] for h in exercised], bottom=[below[h] for h in exercised],
                  color="white", edgecolor=OPTION_COLOR, hatch="///", label=f"{side} on the call option (exercised), kW",
                  **bar)
        mixed = [(start + HOUR * 0.45, float(net)) for start, net, t, c in zip(starts, hourly, tendered, called) if t and c]
        if mixed:
            rates.scatter(*zip(*mixed), marker="_", s=300, linewidths=2, color="black", zorder=3,
                          label="net position, kW")
    rate_limits(rates, [*tendered, *(b + c for b, c in zip(below, called))] if option_kw else tendered)
    rates.set_ylabel("position, kW\n(sells +, buys -)")
    rates.grid(axis="y", linewidth=0.3)
    time_axis(rates, day_start, day_start + 24 * HOUR)
    legend_below(figure, [rates, prices], columns=2)
    figure.tight_layout(rect=(0, 0.14, 1, 1))
    return figure


def save(figure, path: Path) -> Path:
    from service.plotting import pyplot

    figure.savefig(path, dpi=100)
    pyplot().close(figure)
    return path
