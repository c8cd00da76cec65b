"""What the demo's plots and ``temix positions --plot`` share: matplotlib without a screen, the
time axis (UTC, ticks at whole hours), and rate limits that always show the zero line.

matplotlib comes with the ``demo`` extra; it is imported here only when a plot is drawn.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

SELL_COLOR, BUY_COLOR, OPTION_COLOR = "tab:green", "tab:red", "tab:purple"
MARGIN = 0.12  # of the plotted span, above and below, so no bar or zero line sits on an edge


def pyplot():
    """matplotlib's pyplot, rendering to files (no screen needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def time_axis(axes, start: datetime, end: datetime) -> None:
    """x from ``start`` to ``end`` (UTC): a window of a day or less has ticks every 3 hours
    labelled HH:MM and its date under them; a longer one has a tick a day (or every few days)."""
    import matplotlib.dates as mdates

    axes.set_xlim(mdates.date2num(start), mdates.date2num(end))
    span = end - start
    if span <= timedelta(days=1):
        axes.xaxis.set_major_locator(mdates.HourLocator(byhour=range(0, 24, 3 if span > timedelta(hours=6) else 1)))
        axes.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M"))
        last = end - timedelta(microseconds=1)
        dates = f"{start:%Y-%m-%d}" + (f" to {last:%Y-%m-%d}" if last.date() != start.date() else "")
        axes.set_xlabel(f"{dates} (UTC)")
    else:
        axes.xaxis.set_major_locator(mdates.DayLocator(interval=max(1, span.days // 8)))
        axes.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d"))
        axes.set_xlabel(f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} (UTC)")


def rate_limits(axes, values: Iterable[float]) -> None:
    """y limits that include zero with a margin on both sides: a buy-only or sell-only party's
    zero line is inside the frame, not on its edge."""
    values = [0.0, *values]
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    axes.set_ylim(low - MARGIN * span, high + MARGIN * span)
    axes.axhline(0, color="black", linewidth=0.8, zorder=1)


def legend_below(figure, axes_list, columns: int = 3) -> None:
    """One legend for every artist with a label on these axes (twin axes included), under the plot."""
    from matplotlib.container import BarContainer

    entries = [entry for axes in axes_list for entry in zip(*axes.get_legend_handles_labels())]
    entries.sort(key=lambda entry: not isinstance(entry[0], BarContainer))  # bars first, each group in drawing order
    handles, labels = zip(*entries) if entries else ((), ())
    figure.legend(handles, labels, loc="lower center", ncol=columns, fontsize="small", frameon=False)
