"""temix export as a process: stable columns, exact decimals as strings, UTC instants, the
window and the narrowing options, CSV and JSON."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from decimal import Decimal

from service.domain.deliveries import MeterReading
from service.store.export import COLUMNS
from service.store.uow import UnitOfWork
from tests.support import messages as msg

T0 = datetime(2030, 1, 1, 10, tzinfo=UTC)


def trade(service):
    service.call("/EiTender", msg.create_tender("r1", "party-A", "party-B", ("t1", msg.product(quantity="2.5", price="0.0812"))))
    reply = service.call("/EiTransaction", msg.create_transaction(
        "a1", "party-B", "party-A", ("x1", "t1", msg.product(side="buy", quantity="2.5", price="0.0812", state="transaction"))
    ))
    assert reply.code == "200"


def export(temix, database_url, *args):
    done = temix("export", *args, env={"DATABASE_URL": database_url})
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_transactions_export_as_csv_with_the_documented_columns_and_exact_decimals(service, temix, database_url):
    trade(service)
    out = export(temix, database_url, "transactions", "--from", "2030-01-01", "--to", "2030-01-02", "--format", "csv")
    rows = list(csv.reader(io.StringIO(out)))
    assert tuple(rows[0]) == COLUMNS["transactions"]
    row = dict(zip(rows[0], rows[1]))
    assert (row["transaction_id"], row["party_id"], row["counterparty_id"], row["side"]) == ("x1", "party-B", "party-A", "buy")
    assert (row["quantity_kw"], row["price_per_kwh"], row["interval_start"]) == ("2.5", "0.0812", "2030-01-01T10:00:00Z")
    assert row["option_type"] == "" and len(rows) == 2
    outside = export(temix, database_url, "transactions", "--from", "2030-01-02", "--to", "2030-01-03", "--format", "csv")
    assert outside.splitlines() == [",".join(COLUMNS["transactions"])]
    other = export(temix, database_url, "transactions", "--from", "2030-01-01", "--to", "2030-01-02", "--party", "party-C", "--format", "csv")
    assert len(other.splitlines()) == 1


def test_positions_export_the_pieces_cut_at_the_window(service, temix, database_url):
    trade(service)
    out = export(temix, database_url, "positions", "--from", "2030-01-01T10:30:00Z", "--to", "2030-01-02",
                 "--party", "party-A", "--format", "json")
    pieces = json.loads(out)
    assert [set(piece) for piece in pieces] == [set(COLUMNS["positions"])]
    assert (pieces[0]["interval_start"], pieces[0]["interval_end"]) == ("2030-01-01T10:30:00Z", "2030-01-01T11:00:00Z")
    assert Decimal(pieces[0]["rate_kw"]) == Decimal("2.5")  # party-A sold: positive
    assert Decimal(pieces[0]["value_per_hour"]) == Decimal("2.5") * Decimal("0.0812")


def test_deliveries_export_as_json_with_strings_for_decimals(service, engine, temix, database_url):
    with UnitOfWork(engine) as uow:
        uow.deliveries.record([MeterReading("party-A", msg.CTX, "NODE-1", T0, T0.replace(hour=11), True,
                                            Decimal("0.000001"))], "operator", T0, "file.csv")
        uow.commit()
    out = export(temix, database_url, "deliveries", "--from", "2030-01-01", "--to", "2030-01-02",
                 "--market-context", msg.CTX, "--format", "json")
    (reading,) = json.loads(out)
    assert reading == {
        "party_id": "party-A", "market_context": msg.CTX, "interface": "NODE-1",
        "interval_start": "2030-01-01T10:00:00Z", "interval_end": "2030-01-01T11:00:00Z", "injection": True,
        "energy_kwh": "0.000001", "reported_by": "operator", "reported_at": "2030-01-01T10:00:00Z", "source": "file.csv",
    }
    assert json.loads(export(temix, database_url, "deliveries", "--from", "2030-01-01", "--to", "2030-01-02",
                             "--market-context", "urn:other", "--format", "json")) == []
