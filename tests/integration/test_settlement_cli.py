"""temix market-context set --balancing-party/--price-grace, temix settle, temix statement and
the scheduled settlement of temix serve, as an operator runs them."""

import csv
import io
import json
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import text

from service.cli.settle import run_scheduled
from service.config import Settings
from service.domain.deliveries import MeterReading
from service.store.uow import UnitOfWork
from tests.support import messages as msg
from tests.support import quote_messages as qmsg

CTX = "http://market.example.com/temix/ctx1"
DAY = datetime(2026, 1, 2, tzinfo=UTC)  # in the past: its prices are final whenever the test runs


def _setup(service, clock, engine):
    clock.now = DAY - timedelta(days=1)
    offer = msg.product(side="sell", quantity="3", price="0.1", start="2026-01-02T00:00:00Z")
    assert service.call("/EiTender", msg.create_tender("t", "party-A", "party-B", ("t", offer))).code == "200"
    take = msg.product(side="buy", quantity="3", price="0.1", start="2026-01-02T00:00:00Z", state="transaction")
    assert service.call("/EiTransaction", msg.create_transaction("x", "party-B", "party-A", ("x", "t", take))).code == "200"
    price = msg.product(side="sell", quantity="1", price="0.3", start="2026-01-02T00:00:00Z", state="publication")
    assert service.call("/EiQuote", qmsg.create_quote("q", "party-A", CTX, ("rt", price)), as_party="party-A").code == "200"
    with engine.begin() as conn:
        conn.execute(text("UPDATE quote SET created_at = :at"), {"at": DAY})
    with UnitOfWork(engine) as uow:
        uow.deliveries.record([MeterReading("party-B", CTX, "NODE-1", DAY, DAY + timedelta(hours=1), False, Decimal("3.5"))],
                              "operator", DAY, "test")
        uow.commit()


def test_an_operator_settles_a_day_and_prints_statements(service, clock, engine, temix, database_url, tmp_path):
    _setup(service, clock, engine)
    env = {"DATABASE_URL": database_url}
    unknown = temix("market-context", "set", CTX, "--balancing-party", "nobody", env=env)
    assert unknown.returncode == 1 and "not a registered party" in unknown.stderr
    refused = temix("settle", "--market-context", CTX, "--from", "2026-01-02", "--to", "2026-01-03", env=env)
    assert refused.returncode == 1 and "names no balancing party" in refused.stderr
    named = temix("market-context", "set", CTX, "--balancing-party", "party-A", "--price-grace", "PT5M", env=env)
    assert named.returncode == 0, named.stderr
    assert "party-A" in temix("market-context", "list", env=env).stdout

    settled = temix("settle", "--market-context", CTX, "--from", "2026-01-02", "--to", "2026-01-03", env=env)
    assert settled.returncode == 0, settled.stderr
    assert "settled 24 intervals" in settled.stdout and "1 imbalance transactions" in settled.stdout
    again = temix("settle", "--market-context", CTX, "--from", "2026-01-02", "--to", "2026-01-03", env=env)
    assert "0 imbalance transactions, 1 already balanced" in again.stdout

    table = temix("statement", "party-B", "--from", "2026-01-02", "--to", "2026-01-03", "--plot", str(tmp_path / "b.png"), env=env)
    assert table.returncode == 0, table.stderr
    assert "imbalance" in table.stdout and Path(tmp_path / "b.png").stat().st_size > 10_000
    lines = list(csv.DictReader(io.StringIO(temix("statement", "party-B", "--from", "2026-01-02", "--to", "2026-01-03",
                                                  "--format", "csv", env=env).stdout)))
    by_line = {row["line"]: (row["energy_kwh"], row["value"]) for row in lines}
    assert by_line["forward"] == ("-3", "-0.3") and by_line["imbalance"] == ("-0.5", "-0.15")
    assert by_line["total"] == ("-3.5", "-0.45")
    shown = json.loads(temix("statement", "party-A", "--from", "2026-01-02", "--to", "2026-01-03", "--format", "json", env=env).stdout)
    assert {row["line"]: row["value"] for row in shown["lines"]}["total"] == "0.45"
    checked = temix("db", "check-positions", env=env)
    assert checked.returncode == 0, checked.stdout
    with engine.connect() as conn:
        runs = conn.execute(text("SELECT actor, details FROM audit_event WHERE kind = 'settlement.run' ORDER BY id")).all()
        made = conn.execute(text("SELECT count(*) FROM audit_event WHERE kind = 'transaction.created'"
                                 " AND details->>'settlement' = 'true'")).scalar()
    assert [(actor, details["transactions"]) for actor, details in runs] == [("operator:settle", 1), ("operator:settle", 0)]
    assert made == 1


def test_a_statement_says_which_intervals_have_a_position_but_no_reading(service, clock, engine, temix, database_url):
    _setup(service, clock, engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE market_context SET balancing_party_id = 'party-A'"))
        conn.execute(text("DELETE FROM meter_reading"))
    shown = temix("statement", "party-B", "--from", "2026-01-02", "--to", "2026-01-03", env={"DATABASE_URL": database_url})
    assert "not settled, no reading: " + CTX + " NODE-1 2026-01-02 00:00+PT1H" in shown.stdout


def test_the_scheduled_settlement_runs_every_market_context_with_a_balancing_party(engine, database_url, tmp_path):
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO party (party_id, password_hash) VALUES ('rep', 'x')"))
        conn.execute(text("INSERT INTO market_context (market_context, balancing_party_id) VALUES ('urn:a', 'rep'), ('urn:b', NULL)"))
    stop = threading.Event()
    stop.set()  # one round, then stop
    settings = Settings.from_env(environ={}, data_dir=tmp_path, database_url=database_url)
    from service.store.db import to_sqlalchemy_url

    run_scheduled(settings.__class__(**{**settings.__dict__, "database_url": to_sqlalchemy_url(database_url)}),
                  timedelta(minutes=5), timedelta(minutes=15), stop)
    with engine.connect() as conn:
        runs = conn.execute(text("SELECT actor, details->>'market_context' FROM audit_event WHERE kind = 'settlement.run'")).all()
    assert runs == [("operator:serve", "urn:a")]
