"""The demo's outcome: each party's positions and costs, printed and plotted."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from service.demo.parties import Agent
from service.demo.strategies import BUY_BACK_SPREAD, CURRENCY, HOUR, NODE, SELL_PRICES


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

