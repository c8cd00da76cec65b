"""A party's statement for people and billing systems (``temix statement``): accounts per
market context and currency (``service.domain.statements``), the settlement intervals it has a
position in but no reading for, as a table, CSV or JSON, and a plot of position against
delivery."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from service.domain.errors import InvalidValueError
from service.domain.intervals import Interval
from service.domain.markets import MarketContext
from service.domain.settlement import settlement_intervals
from service.domain.statements import KINDS, Account, IntervalFigures, accounts
from service.domain.units import plain
from service.store.uow import UnitOfWork


@dataclass(frozen=True)
class Statement:
    party_id: str
    window: Interval
    accounts: list[Account]
    unread: list[tuple[str, str, Interval]]  # (market context, interface, interval): a position, no reading
    figures: dict[tuple[str, str], list[IntervalFigures]]  # (market context, interface) -> per interval


def build(engine, party_id: str, window: Interval, markets: dict[str, MarketContext]) -> Statement:
    with UnitOfWork(engine) as uow:
        found = accounts(uow.statements.deals(party_id, window), window)
        settled = uow.statements.settled(party_id, window)
        unread, figures = [], {}
        for uri in sorted({account.market_context for account in found}):
            market = markets.get(uri)
            if market is None or market.balancing_party_id == party_id:
                continue  # the balancing party's position is what the others' imbalances leave it
            try:
                intervals = settlement_intervals(window, market.settlement_step, market.tz)
            except InvalidValueError:  # a settlement interval no imbalance can be settled in
                continue
            if not intervals:
                continue
            positions = uow.settlements.position_energy(uri, intervals, party_id)
            readings = defaultdict(Decimal)
            for reading in uow.deliveries.for_party(party_id, uri, None, window.start, window.end):
                readings[(reading.interface, Interval(reading.start, reading.end))] += reading.net_kwh
            figures.update(_figures(uri, intervals, positions, readings, settled, party_id))
            unread += [(uri, node, interval) for (_, node, interval), kwh in sorted(positions.items(), key=_when)
                       if kwh and (node, interval) not in readings]
    return Statement(party_id, window, found, unread, figures)


def _when(item):
    (_, node, interval), _ = item
    return interval.start, node


def _figures(uri, intervals, positions, readings, settled, party_id):
    imbalance, price = defaultdict(Decimal), {}
    for market_context, node, interval, imbalance_kwh, price_per_kwh, _ in settled:
        if market_context == uri:
            imbalance[(node, interval)] += imbalance_kwh
            price[(node, interval)] = price_per_kwh
    nodes = {node for (_, node, _) in positions} | {node for (node, _) in readings}
    return {
        (uri, node): [
            IntervalFigures(
                interval,
                plain(positions.get((party_id, node, interval), Decimal(0)) - imbalance[(node, interval)]),
                readings.get((node, interval)),
                imbalance[(node, interval)],
                price.get((node, interval)),
            )
            for interval in intervals
        ]
        for node in sorted(nodes)
    }


# ------------------------------------------------------------------ formats


def rows(statement: Statement) -> list[dict]:
    """One row per market context, currency and line (the kinds, then position and total)."""
    out = []
    for account in statement.accounts:
        for kind in KINDS:
            line = account.lines[kind]
            out.append(_row(account, kind, line.energy_kwh, line.value, line.count))
        out.append(_row(account, "position", account.position_energy, account.position_value, None))
        out.append(_row(account, "total", account.position_energy, account.total_value, None))
    return out


def _row(account: Account, line: str, energy, value, count) -> dict:
    return {
        "market_context": account.market_context, "currency": account.currency, "line": line,
        "energy_kwh": str(energy), "value": str(value), "transactions": "" if count is None else str(count),
    }


def as_table(statement: Statement) -> str:
    window = statement.window
    lines = [f"statement of {statement.party_id} from {window.start:%Y-%m-%d %H:%M} to {window.end:%Y-%m-%d %H:%M} UTC"]
    if not statement.accounts:
        lines.append("no transaction delivers in this window")
    for account in statement.accounts:
        lines.append(f"{account.market_context} ({account.currency or 'no currency'})")
        lines.append(f"  {'':<10} {'transactions':>12} {'energy kWh':>16} {'value':>16}")
        for row in rows(Statement(statement.party_id, window, [account], [], {})):
            lines.append(f"  {row['line']:<10} {row['transactions']:>12} {row['energy_kwh']:>16} {row['value']:>16}")
    for uri, node, interval in statement.unread:
        lines.append(f"not settled, no reading: {uri} {node} {interval.start:%Y-%m-%d %H:%M}+{interval.duration_text()}")
    return "\n".join(lines)


def as_csv(statement: Statement) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, ["market_context", "currency", "line", "energy_kwh", "value", "transactions"],
                            lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows(statement))
    return buffer.getvalue().rstrip("\n")


def as_json(statement: Statement) -> str:
    return json.dumps({
        "party": statement.party_id,
        "from": statement.window.start.isoformat(),
        "to": statement.window.end.isoformat(),
        "lines": rows(statement),
        "not_settled": [
            {"market_context": uri, "interface": node, "start": interval.start.isoformat(),
             "end": interval.end.isoformat(), "reason": "no reading"}
            for uri, node, interval in statement.unread
        ],
    }, indent=2)


# ------------------------------------------------------------------ the plot


def plot(statement: Statement, path: Path) -> None:
    """Per interface: the forward position and the delivery per settlement interval (kWh, as
    steps), the imbalance between them shaded, the real-time price on a second axis."""
    from service.plotting import BUY_COLOR, SELL_COLOR, legend_below, pyplot, rate_limits, time_axis

    plt = pyplot()
    panels = list(statement.figures.items()) or [(("", ""), [])]
    figure, axes_list = plt.subplots(len(panels), 1, sharex=True, figsize=(10, 3.5 * len(panels)), squeeze=False)
    prices_axes = []
    for axes, ((uri, node), figures) in zip(axes_list[:, 0], panels):
        starts = [f.interval.start for f in figures] + ([figures[-1].interval.end] if figures else [])
        position = [float(f.position_kwh) for f in figures]
        delivered = [float(f.delivered_kwh) if f.delivered_kwh is not None else float("nan") for f in figures]
        if figures:
            axes.stairs(position, starts, color="tab:blue", linewidth=1.8, label="forward position (kWh)", baseline=None)
            axes.stairs(delivered, starts, color="black", linestyle="--", linewidth=1.2, label="delivered (kWh)", baseline=None)
            for f in figures:
                if f.imbalance_kwh:
                    color = SELL_COLOR if f.imbalance_kwh > 0 else BUY_COLOR
                    axes.fill_between([f.interval.start, f.interval.end], float(f.position_kwh),
                                      float(f.position_kwh + f.imbalance_kwh), color=color, alpha=0.3)
            axes.fill_between([], [], [], color=SELL_COLOR, alpha=0.3, label="imbalance sold")
            axes.fill_between([], [], [], color=BUY_COLOR, alpha=0.3, label="imbalance bought")
            prices = axes.twinx()
            priced = [float(f.price_per_kwh) if f.price_per_kwh is not None else float("nan") for f in figures]
            prices.stairs(priced, starts, color="tab:orange", linewidth=1.2, label="real-time price (per kWh)", baseline=None)
            prices.set_ylabel("price per kWh")
            prices_axes.append(prices)
            shown = [float(f.position_kwh + f.imbalance_kwh) for f in figures] + position
            rate_limits(axes, shown + [v for v in delivered if v == v])
        axes.set_ylabel("kWh per interval")
        axes.set_title(f"{statement.party_id}: {node} in {uri}" if uri else f"{statement.party_id}: nothing settled")
    time_axis(axes_list[-1, 0], statement.window.start, statement.window.end)
    legend_below(figure, list(axes_list[:, 0]) + prices_axes)
    figure.tight_layout(rect=(0, 0.12 / len(panels), 1, 1))
    figure.savefig(path, dpi=100)
    plt.close(figure)
