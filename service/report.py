"""Position profiles for people: a text table and a PNG plot (the `temix positions` command)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from service.domain.intervals import Interval
from service.domain.positions import PositionKey, PositionStep
from service.store.uow import UnitOfWork


def profiles(engine, party_id: str, window: Interval, step: timedelta | None) -> dict[PositionKey, list[PositionStep]]:
    with UnitOfWork(engine) as uow:
        found = uow.positions.read_window(party_id, window)
    return {held.key: held.profile(step) for held in found}


def describe(key: PositionKey) -> str:
    interface = f"{key.receipt_node}->{key.delivery_node}" if key.receipt_node else key.delivery_node
    return f"{key.product_kind} at {interface} in {key.market_context}"


def table(found: dict[PositionKey, list[PositionStep]]) -> str:
    """One block per position; rates in kW (sells less buys), energy in kWh, value = revenue less cost."""
    if not found:
        return "no position in this window"
    lines = []
    for key, steps in found.items():
        lines.append(describe(key))
        lines.append(f"  {'start (UTC)':<20} {'duration':>9} {'rate kW':>12} {'energy kWh':>14} {'value':>14}")
        for step in steps:
            lines.append(
                f"  {step.interval.start:%Y-%m-%d %H:%M}     {step.interval.duration_text():>9}"
                f" {_num(step.rate_kw):>12} {_num(step.energy_kwh):>14} {_num(step.value):>14}"
            )
        total_energy = sum(s.energy_kwh for s in steps)
        total_value = sum(s.value for s in steps)
        lines.append(f"  {'total':<30} {'':>12} {_num(total_energy):>14} {_num(total_value):>14}")
    return "\n".join(lines)


def _num(value) -> str:
    return f"{value:,.3f}"


def currencies(engine) -> dict[str, str | None]:
    """market context URI -> its currency (None where the operator set none)."""
    from service.store.markets import list_market_contexts

    with engine.connect() as conn:
        return {context.uri: context.currency for context in list_market_contexts(conn)}


def plot(
    found: dict[PositionKey, list[PositionStep]],
    party_id: str,
    path: Path,
    window: Interval | None = None,
    currency_of: dict[str, str | None] | None = None,
) -> None:
    """Each position's rate over time (above) and its value per step (below, in its market
    context's currency), on the demo's time axis; the legend names each position by product
    and node, with its energy and value over the window."""
    figure = figure_of(found, party_id, window, currency_of or {})
    figure.savefig(path, dpi=100)
    from service.plotting import pyplot

    pyplot().close(figure)


def figure_of(found, party_id: str, window: Interval | None, currency_of: dict[str, str | None]):
    from service.plotting import legend_below, pyplot, rate_limits, time_axis

    plt = pyplot()
    figure, (rates, values) = plt.subplots(2, 1, sharex=True, figsize=(10, 6), height_ratios=(2, 1))
    contexts = {key.market_context for key in found}
    units = {currency_of.get(context) or "currency units" for context in contexts}
    drawn_rates, drawn_values = [], []
    for key, steps in found.items():
        if not steps:
            continue
        unit = currency_of.get(key.market_context) or "currency units"
        times = [s.interval.start for s in steps] + [steps[-1].interval.end]
        energy, value = sum(s.energy_kwh for s in steps), sum(s.value for s in steps)
        label = _short(key, len(contexts) > 1) + f": {_num(energy)} kWh, {value:,.2f} {unit}"
        line, = rates.step(times, [float(s.rate_kw) for s in steps] + [float(steps[-1].rate_kw)], where="post", label=label)
        values.step(times, [float(s.value) for s in steps] + [float(steps[-1].value)], where="post", color=line.get_color())
        drawn_rates += [float(s.rate_kw) for s in steps]
        drawn_values += [float(s.value) for s in steps]
    rate_limits(rates, drawn_rates)
    rate_limits(values, drawn_values)
    rates.set_ylabel("rate, kW\n(sells +, buys -)")
    values.set_ylabel(f"value per step,\n{' / '.join(sorted(units))}")
    for axes in (rates, values):
        axes.grid(axis="y", linewidth=0.3)
    where = f" in {next(iter(contexts))}" if len(contexts) == 1 else ""
    rates.set_title(f"Position of {party_id}{where}" + ("" if found else ": none in this window"))
    if window is None and found:
        every = [s.interval for steps in found.values() for s in steps]
        window = Interval(min(i.start for i in every), max(i.end for i in every)) if every else None
    if window is not None:
        time_axis(values, window.start, window.end)
    values.set_xlabel(values.get_xlabel() + ";  value = revenue less cost")
    legend_below(figure, [rates], columns=1)
    figure.tight_layout(rect=(0, 0.06 + 0.04 * len(found), 1, 1))
    return figure


def _short(key: PositionKey, with_context: bool) -> str:
    interface = f"{key.receipt_node} -> {key.delivery_node}" if key.receipt_node else key.delivery_node
    return f"{key.product_kind} at {interface}" + (f" ({key.market_context})" if with_context else "")
