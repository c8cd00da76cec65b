"""The pictures say what they show: the demo's plots and `temix positions --plot`, checked by
their artists (legend entries, labels, axis limits, hatched bars), not their pixels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

pytest.importorskip("matplotlib", reason="the demo extra draws the plots")

from matplotlib.container import BarContainer  # noqa: E402

from service import report  # noqa: E402
from service.demo.report import DemoResult, option_flow, plot, positions_table  # noqa: E402
from service.demo.strategies import BUY_BACK_SPREAD, SELL_PRICES  # noqa: E402
from service.domain.intervals import Interval  # noqa: E402
from service.domain.positions import PositionKey, PositionStep  # noqa: E402
from service.plotting import pyplot  # noqa: E402

DAY = datetime(2030, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
EXERCISED = {18: Decimal(2), 19: Decimal(2), 20: Decimal(2)}


@pytest.fixture
def figures():
    drawn = []
    yield drawn
    for figure in drawn:
        pyplot().close(figure)


def legend_texts(figure) -> list[str]:
    return [text.get_text() for legend in figure.legends for text in legend.get_texts()]


def demo_result() -> DemoResult:
    result = DemoResult(DAY.date(), "ctx", {"rep": "rep-1", "thermostat": "thermostat-1"})
    thermostat = [Decimal(-2) if hour < 7 or hour >= 17 else Decimal(0) for hour in range(24)]
    # the REP sells on the tenders, buys 5 kW from a battery in the evening and sells the cap's 2 kW
    rep = [Decimal(-3) if hour in EXERCISED else Decimal(2) if hour < 7 else Decimal(0) for hour in range(24)]
    result.hourly_kw = {"rep": rep, "thermostat": thermostat}
    result.exercised_kw = dict(EXERCISED)
    result.option_roles = {"thermostat": "holder", "rep": "writer"}
    return result


def test_a_buy_only_party_has_its_zero_line_inside_the_frame_and_a_legend_naming_each_thing_drawn(figures):
    result = demo_result()
    figure = plot("thermostat-1", DAY, result.hourly_kw["thermostat"], option_flow(result, "thermostat"))
    figures.append(figure)
    prices, rates = figure.axes

    assert legend_texts(figure) == [
        "bought at a tender, kW",
        "bought on the call option (exercised), kW",
        "REP sell price: customers buy at it, USD/kWh",
        "REP buy price: customers sell at it, USD/kWh",
        "call option strike (paid when exercised), USD/kWh",
    ]
    low, high = rates.get_ylim()
    assert low <= -2.2 and high >= 0.2  # the zero line is not on the top edge: a tenth of 2 kW above it
    assert rates.get_ylabel() == "position, kW\n(sells +, buys -)"
    assert prices.get_ylabel() == "price, USD/kWh"


def test_the_battery_sees_both_of_the_reps_prices(figures):
    figure = plot("battery-1", DAY, [Decimal(0)] * 24, {})
    figures.append(figure)
    prices = figure.axes[0]
    drawn = {line.get_label(): list(line.get_ydata()) for line in prices.get_lines()}
    sell = [float(p) for p in SELL_PRICES]
    buy = [float(p - BUY_BACK_SPREAD) for p in SELL_PRICES]
    assert drawn["REP sell price: customers buy at it, USD/kWh"] == [*sell, sell[-1]]
    assert drawn["REP buy price: customers sell at it, USD/kWh"] == [*buy, buy[-1]]
    assert prices.get_ylim()[0] == 0


def test_option_exercises_are_hatched_bars_apart_from_the_tendered_ones(figures):
    result = demo_result()
    figure = plot("rep-1", DAY, result.hourly_kw["rep"], option_flow(result, "rep"))
    figures.append(figure)
    rates = figure.axes[1]
    bars = {container.get_label(): container for container in rates.containers if isinstance(container, BarContainer)}

    exercised = bars["sold on the call option (exercised), kW"]
    assert [patch.get_hatch() for patch in exercised] == ["///"] * 3
    # on top of nothing (the REP bought at the tenders in those hours): each ends at +2 kW
    assert [(patch.get_y(), patch.get_height()) for patch in exercised] == [(0, 2.0)] * 3
    tendered_buys = [patch.get_height() for patch in bars["bought at a tender, kW"]]
    assert tendered_buys[18:21] == [-5.0] * 3  # the battery's 5 kW, apart from the cap's 2
    assert "net position, kW" in legend_texts(figure)
    assert all(patch.get_hatch() is None for patch in bars["sold at a tender, kW"])


def test_the_demo_table_gives_the_units_of_prices_and_positions():
    table = positions_table(demo_result()).splitlines()
    assert "REP price, USD/kWh" in table[0] and "position, kW" in table[0]
    assert table[1].split() == ["hour", "sell", "buy", "rep", "thermostat"]
    assert table[3 + 18].split() == ["18:00", "0.320", "0.290", "-3.000*", "-2.000*"]
    assert table[-1].startswith("energy, kWh")


def test_positions_plot_has_the_demos_ticks_a_short_legend_and_currency_on_values(figures):
    key = PositionKey("party-A", "http://market.example.com/ctx", "energy", "", "NODE-1")
    steps = [
        PositionStep(Interval(DAY + h * HOUR, DAY + (h + 1) * HOUR), Decimal(rate), Decimal(rate), Decimal(rate) * Decimal("0.08"),
                     Decimal(rate), Decimal(rate))
        for h, rate in enumerate(["0", "10", "10", "0"])
    ]
    figure = report.figure_of({key: steps}, "party-A", Interval(DAY, DAY + 4 * HOUR), {key.market_context: "USD"})
    figures.append(figure)
    rates, values = figure.axes

    assert legend_texts(figure) == ["energy at NODE-1: 20.000 kWh, 1.60 USD"]
    assert "USD" in values.get_ylabel()
    assert rates.get_title() == "Position of party-A in http://market.example.com/ctx"
    figure.canvas.draw()
    assert [label.get_text() for label in values.get_xticklabels()] == ["00:00", "01:00", "02:00", "03:00", "04:00"]
    assert values.get_xlabel().startswith("2030-01-01 (UTC)")
    low, high = rates.get_ylim()  # a sell-only position: zero inside the frame, with a margin
    assert low <= -1 and high >= 11
