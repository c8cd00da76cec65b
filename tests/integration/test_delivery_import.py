"""temix delivery import as a process: a file is recorded whole or not at all, rejected rows
are reported by line, a re-import changes nothing, a corrected file corrects with history."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import text

CTX = "http://market.example.com/temix/quarter"
HEADER = "party,market_context,interface,interval_start,duration,injection,energy_kwh\n"


@pytest.fixture
def market(engine):
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO party (party_id, password_hash) VALUES ('a', 'x'), ('b', 'x')"))
        conn.execute(text(
            "INSERT INTO market_context (market_context, timezone, settlement_interval)"
            " VALUES (:ctx, 'Europe/Berlin', 'PT15M')"
        ), {"ctx": CTX})
    return engine


@pytest.fixture
def run(temix, database_url, tmp_path):
    def run(body: str, *args: str, name: str = "readings.csv"):
        path = tmp_path / name
        path.write_text(body)
        return temix("delivery", "import", str(path), *args, env={"DATABASE_URL": database_url})

    return run


def readings(engine) -> list[tuple]:
    with engine.connect() as conn:
        return conn.execute(text(
            "SELECT party_id, interval_start, interval_end - interval_start, injection, energy_kwh, reported_by, source"
            " FROM meter_reading ORDER BY party_id, interval_start, injection"
        )).all()


def scalar(engine, query: str):
    with engine.connect() as conn:
        return conn.execute(text(query)).scalar()


GOOD = HEADER + (
    f"a,{CTX},NODE-1,2030-01-01T10:00:00Z,PT15M,false,1.25\n"
    f"a,{CTX},NODE-1,2030-01-01T10:00:00Z,PT15M,true,0.000001\n"
    f"b,{CTX},NODE-1,2030-01-01T11:15:00+01:00,PT15M,false,3\n"
)


def test_a_file_is_recorded_then_a_reimport_changes_nothing(market, run):
    done = run(GOOD)
    assert done.returncode == 0, done.stderr
    assert "3 readings, 3 new, 0 corrected, 0 unchanged" in done.stdout
    rows = readings(market)
    assert [(r[0], r[3], r[4]) for r in rows] == [("a", False, Decimal("1.25")), ("a", True, Decimal("0.000001")), ("b", False, Decimal("3"))]
    assert {r[5] for r in rows} == {"operator"} and {r[6] for r in rows} == {"readings.csv"}

    again = run(GOOD)
    assert again.returncode == 0, again.stderr
    assert "3 readings, 0 new, 0 corrected, 3 unchanged" in again.stdout
    assert readings(market) == rows
    assert scalar(market, "SELECT count(*) FROM audit_event WHERE kind = 'delivery.imported'") == 2


def test_a_corrected_file_replaces_values_and_keeps_history(market, run):
    run(GOOD)
    corrected = HEADER + f"a,{CTX},NODE-1,2030-01-01T10:00:00Z,PT15M,false,1.5\n"
    done = run(corrected, name="corrections.csv")
    assert "1 readings, 0 new, 1 corrected, 0 unchanged" in done.stdout
    with market.connect() as conn:
        history = conn.execute(text("SELECT old_kwh, new_kwh, reported_by, source FROM meter_reading_history")).all()
    assert history == [(Decimal("1.25"), Decimal("1.5"), "operator", "corrections.csv")]


def test_any_rejected_row_is_reported_by_line_and_nothing_is_imported(market, run):
    body = GOOD + (
        f"nobody,{CTX},NODE-1,2030-01-01T10:00:00Z,PT15M,false,1\n"  # line 5
        f"a,{CTX},NODE-1,2030-01-01T10:05:00Z,PT15M,false,1\n"  # line 6: off the quarter hours
        f"a,{CTX},NODE-1,2030-01-01T10:00:00Z,PT15M,false,2\n"  # line 7: repeats line 2
        f"a,{CTX},NODE-1,2030-01-01T12:00:00Z,PT15M,maybe,1\n"  # line 8
        f"a,{CTX},NODE-1,2030-01-01T12:00:00Z,PT15M,false,-1\n"  # line 9
        f"a,urn:nowhere,NODE-1,2030-01-01T12:00:00Z,PT15M,false,1\n"  # line 10
    )
    done = run(body)
    assert done.returncode == 1
    for line, reason in [(5, "'nobody' is not registered"), (6, "settlement interval"), (7, "repeats the reading of line 2"),
                         (8, "injection 'maybe'"), (9, "negative"), (10, "not registered")]:
        assert f"line {line}: " in done.stderr and reason in done.stderr, (line, done.stderr)
    assert "6 of 9 rows rejected; nothing imported" in done.stderr
    assert readings(market) == []
    assert scalar(market, "SELECT count(*) FROM audit_event WHERE kind = 'delivery.imported'") == 0


def test_interval_end_and_a_default_market_context_may_replace_columns(market, run):
    body = "party,interface,interval_start,interval_end,injection,energy_kwh\na,NODE-1,2030-01-01T10:00:00Z,2030-01-01T10:15:00Z,0,7\n"
    assert run(body).returncode == 1  # no market context named anywhere
    done = run(body, "--market-context", CTX)
    assert done.returncode == 0, done.stderr
    assert [r[4] for r in readings(market)] == [Decimal("7")]


def test_a_header_with_unknown_or_missing_columns_is_refused(market, run):
    done = run("party,interface,start,injection,energy_kwh\n")
    assert done.returncode == 1 and "unknown columns start" in done.stderr and "interval_start" in done.stderr


def test_market_context_add_and_set_take_a_settlement_interval(engine, temix, database_url):
    env = {"DATABASE_URL": database_url}
    added = temix("market-context", "add", "urn:m:five", "--settlement-interval", "PT5M", env=env)
    assert added.returncode == 0, added.stderr
    assert temix("market-context", "add", "urn:m:bad", "--settlement-interval", "PT7M", env=env).returncode == 1
    changed = temix("market-context", "set", "urn:m:five", "--settlement-interval", "PT15M", env=env)
    assert changed.returncode == 0 and "PT15M" in changed.stdout
    assert temix("market-context", "set", "urn:m:five", "--settlement-interval", "P1D", env=env).returncode == 1
    assert temix("market-context", "set", "urn:m:five", env=env).returncode == 1  # nothing to change
    assert scalar(engine, "SELECT settlement_interval FROM market_context WHERE market_context = 'urn:m:five'") == "PT15M"
    assert "PT15M" in temix("market-context", "list", env=env).stdout
