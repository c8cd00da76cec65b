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


def plot(found: dict[PositionKey, list[PositionStep]], party_id: str, path: Path) -> None:
    """A step plot of each position's rate over time."""
    import matplotlib

    matplotlib.use("Agg")  # no screen: render to a file
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(10, 4))
    for key, steps in found.items():
        if not steps:
            continue
        times = [s.interval.start for s in steps] + [steps[-1].interval.end]
        rates = [float(s.rate_kw) for s in steps] + [float(steps[-1].rate_kw)]
        axes.step(times, rates, where="post", label=describe(key))
    axes.axhline(0, color="grey", linewidth=0.5)
    axes.set_title(f"Position of {party_id} (sells positive, buys negative)")
    axes.set_ylabel("rate (kW)")
    axes.set_xlabel("time (UTC)")
    if found:
        axes.legend(fontsize="small")
    figure.autofmt_xdate()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
