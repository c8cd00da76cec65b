"""The REP dynamic-pricing demo (service/demo/) against the running server.

The demo registers its parties over SOAP as a registrar (``temix party add-registrar``; the
e2e server allows registrars' passwords), in the market context the operator registered, then
trades through zeep. These tests hold the server's positions, read back with
EiRequestPosition, to what each agent's strategy should have bought at the demo's prices.
The other form, with the server's --data-dir and ``temix`` commands, runs as the example script.
"""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal

import pytest

from service import demo
from service.config import REPO_ROOT
from tests.support.server import running_server, temix_command, temix_env

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CUSTOMERS = ("thermostat", "battery", "ev-charger")


@pytest.fixture(scope="module")
def registrar(server) -> tuple[str, str]:
    """A registrar's ID and password, as ``temix party add-registrar`` prints them, and the
    demo's market context registered by the operator, running an exchange."""
    server.add_market_context(demo.DEMO_MARKET_CONTEXT, currency="USD")
    server.temix("market-context", "set", demo.DEMO_MARKET_CONTEXT, "--exchange")
    done = subprocess.run(
        temix_command("party", "add-registrar", "demo-registrar", "--data-dir", str(server.data_dir)),
        capture_output=True, text=True, env=temix_env(), cwd=server.data_dir, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    printed = dict(line.split(": ", 1) for line in done.stdout.splitlines() if ": " in line)
    return printed["registrar"], printed["password"]


@pytest.fixture(scope="module")
def outcome(server, registrar, tmp_path_factory) -> demo.DemoResult:
    out = tmp_path_factory.mktemp("demo-out")
    return demo.main(server.base_url, out_dir=out, registrar=registrar)


def hours_at(hourly: list[Decimal], rate: str) -> set[int]:
    return {hour for hour, kw in enumerate(hourly) if kw == Decimal(rate)}


def test_the_rep_reaches_the_three_customers_and_every_customer_trades(outcome):
    assert set(outcome.hourly_kw) == {"rep", *CUSTOMERS}
    for role in CUSTOMERS:
        assert any(outcome.hourly_kw[role]), f"{role} has no position"


def test_the_thermostat_buys_2_kw_in_the_hours_under_its_threshold_and_in_its_comfort_hours(outcome):
    hourly = outcome.hourly_kw["thermostat"]
    under_threshold = {h for h, price in enumerate(demo.SELL_PRICES) if price < demo.THERMOSTAT_THRESHOLD}
    assert under_threshold == {0, 1, 2, 3, 4, 5, 6, 11, 12, 13, 14, 23}
    assert hours_at(hourly, "-2") == under_threshold | {17, 18, 19, 20}
    assert hours_at(hourly, "0") == set(range(24)) - under_threshold - {17, 18, 19, 20}


def test_the_thermostat_calls_its_price_cap_where_the_tender_is_above_the_strike(outcome):
    if outcome.options.startswith("unsupported"):
        pytest.skip(f"the server does not support options: {outcome.options}")
    assert outcome.options.startswith("exercised"), outcome.options
    assert outcome.exercised_hours == [18, 19, 20]  # 17:00 (0.24) is under the strike (0.25)
    # Premium: 0.01 per kWh of the 2 kW cap over its 4 hours, paid by the thermostat to the REP.
    assert outcome.premiums["thermostat"] == Decimal("-0.08")
    assert outcome.premiums["rep"] == Decimal("0.08")
    tendered = sum(demo.SELL_PRICES[h] for h in (0, 1, 2, 3, 4, 5, 6, 11, 12, 13, 14, 17, 23))
    assert outcome.values["thermostat"] == -2 * (tendered + 3 * demo.CAP_STRIKE)


def test_the_battery_buys_in_the_4_cheapest_hours_and_sells_in_the_3_dearest(outcome):
    hourly = outcome.hourly_kw["battery"]
    assert hours_at(hourly, "-5") == {1, 2, 3, 4}
    assert hours_at(hourly, "5") == {18, 19, 20}
    assert hours_at(hourly, "0") == set(range(24)) - {1, 2, 3, 4, 18, 19, 20}
    # Sold to the REP's buy tenders, bought at its sell tenders.
    bought = sum(demo.SELL_PRICES[h] for h in (1, 2, 3, 4))
    sold = sum(demo.SELL_PRICES[h] - demo.BUY_BACK_SPREAD for h in (18, 19, 20))
    assert outcome.values["battery"] == 5 * (sold - bought)


def test_the_ev_charger_gets_30_kwh_before_7_never_above_7_2_kw(outcome):
    hourly = outcome.hourly_kw["ev-charger"]
    assert -sum(hourly[:7]) >= 30
    assert all(Decimal("-7.2") <= kw <= 0 for kw in hourly)
    assert not any(hourly[7:])
    assert hours_at(hourly, "-7.2") == {1, 2, 3, 4}  # the cheapest hours before 07:00


def test_the_rep_position_is_minus_the_customers_in_every_hour(outcome):
    for hour in range(24):
        customers = sum(outcome.hourly_kw[role][hour] for role in CUSTOMERS)
        assert outcome.hourly_kw["rep"][hour] == -customers, f"hour {hour:02d}"
    assert outcome.values["rep"] == -sum(outcome.values[role] for role in CUSTOMERS)


def fills_of(outcome, role: str, side: str) -> dict[int, tuple[Decimal, Decimal]]:
    """hour -> (kW, price) of the role's fills on one side, on the exchange day."""
    found = {}
    for fill in outcome.exchange_fills[role]:
        if fill.side == side:
            assert fill.hour not in found, f"{role} filled twice at {fill.hour:02d}:00"
            found[fill.hour] = (fill.quantity, fill.price)
    return found


def test_on_the_exchange_day_the_customers_orders_fill_against_the_reps_at_its_prices(outcome):
    assert outcome.exchange.startswith("traded"), outcome.exchange
    sell, buy_back = demo.SELL_PRICES, [p - demo.BUY_BACK_SPREAD for p in demo.SELL_PRICES]
    comfort = {17, 18, 19, 20}
    under_threshold = {h for h, price in enumerate(sell) if price < demo.THERMOSTAT_THRESHOLD}
    assert fills_of(outcome, "thermostat", "buy") == {h: (Decimal(2), sell[h]) for h in under_threshold | comfort}
    assert fills_of(outcome, "battery", "buy") == {h: (Decimal(5), sell[h]) for h in (1, 2, 3, 4)}
    assert fills_of(outcome, "battery", "sell") == {h: (Decimal(5), buy_back[h]) for h in (18, 19, 20)}
    assert fills_of(outcome, "ev-charger", "buy") == {
        0: (Decimal("1.2"), sell[0]), **{h: (Decimal("7.2"), sell[h]) for h in (1, 2, 3, 4)}
    }
    # the REP's fills mirror the customers', fill by fill, at the same prices
    customers = sorted((f.hour, f.quantity, f.price) for role in CUSTOMERS for f in outcome.exchange_fills[role])
    assert sorted((f.hour, f.quantity, f.price) for f in outcome.exchange_fills["rep"]) == customers
    assert {f.side for f in outcome.exchange_fills["rep"] if f.price == sell[f.hour]} == {"sell"}


def test_the_exchange_days_trade_prices_are_published_for_every_hour_that_traded(outcome):
    traded = {f.hour for f in outcome.exchange_fills["rep"]}
    assert set(outcome.trade_prices) == traded
    for hour, (last, vwap, kwh) in outcome.trade_prices.items():
        assert last in {demo.SELL_PRICES[hour], demo.SELL_PRICES[hour] - demo.BUY_BACK_SPREAD}
        assert demo.SELL_PRICES[hour] - demo.BUY_BACK_SPREAD <= vwap <= demo.SELL_PRICES[hour] and kwh > 0


def test_a_png_of_each_party_position_profile_is_written(outcome):
    assert set(outcome.plots) == {"rep", *CUSTOMERS}
    for role, path in outcome.plots.items():
        assert path.name == f"{outcome.parties[role]}.png"
        assert path.read_bytes()[:8] == PNG_SIGNATURE


def test_the_stored_positions_agree_with_the_transactions(outcome, server):
    server.temix("db", "check-positions")


def test_the_example_script_runs_again_on_the_same_server(server, tmp_path):
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "examples" / "rep_dynamic_pricing.py"), "--url", server.base_url,
         "--out", str(tmp_path), "--data-dir", str(server.data_dir)],
        check=False, capture_output=True, text=True, env=temix_env(), cwd=server.data_dir, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "position in kW at" in done.stdout and "Costs, USD" in done.stdout
    assert len(list(tmp_path.glob("*.png"))) == 8  # each party's positions, and its statement
    # the delivery day (the operator form): meters, real-time prices, settlement, statements
    assert "settled 24 intervals" in done.stdout and "imbalance transactions" in done.stdout
    assert done.stdout.count("statement of ") == 4 and "imbalance" in done.stdout
    server.temix("db", "check-positions")


def test_the_demo_cancels_its_registrations_at_the_end(outcome, server, registrar):
    from tests.e2e.test_registration_over_http import client

    registry = client(server, "EiRegistration", *registrar)
    for party_id in outcome.parties.values():
        reply = registry.service.EiRequestPartyRegistration(
            requestID=f"check-{party_id}", registreePartyID=party_id, requestorPartyID=registrar[0]
        )
        [registration] = reply.eiRegistration
        assert registration.canceledDateTime is not None


def test_temix_demo_needs_only_the_url_and_a_registrars_credentials(server, registrar, tmp_path):
    elsewhere = {**temix_env(), "TEMIX_DATA_DIR": str(tmp_path / "not-the-servers")}
    done = subprocess.run(
        temix_command("demo", "--url", server.base_url, "--out", str(tmp_path / "out"),
                      "--registrar", registrar[0], "--registrar-password-stdin"),
        input=registrar[1] + "\n", capture_output=True, text=True, env=elsewhere, cwd=tmp_path, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert f"registrar {registrar[0]}: registered rep-" in done.stdout
    assert "cancelled the 4 registrations of this run" in done.stdout
    assert "Fills (EiRequestTransaction, counterparty the exchange):" in done.stdout
    assert "bought 32 kWh in 16 fills at 0.078-0.34" in done.stdout, done.stdout[-3000:]  # the thermostat's
    assert "Published trade prices (EiRequestQuote from" in done.stdout
    assert "cancelled its 48 orders left in the book" in done.stdout
    assert len(list((tmp_path / "out").glob("*.png"))) == 4
    assert not (tmp_path / "not-the-servers").exists()


def test_the_demo_says_what_to_enable_when_the_server_refuses_registrars_passwords(registrar, tmp_path):
    with running_server(prefix="temix-e2e-closed-") as closed:
        closed.add_market_context(demo.DEMO_MARKET_CONTEXT, currency="USD")
        closed.temix("party", "add-registrar", "demo-registrar", "--password-stdin", stdin=registrar[1])
        with pytest.raises(demo.DemoError, match="TEMIX_ALLOW_REGISTRAR_PASSWORDS=1"):
            demo.main(closed.base_url, out_dir=tmp_path, registrar=registrar)
