"""temix market-context, temix positions and temix db check-positions, as processes."""

from sqlalchemy import text

from tests.support import messages as msg


def test_market_context_add_and_list(temix):
    added = temix("market-context", "add", "http://m.example/ctx", "--timezone", "Europe/Berlin", "--currency", "EUR", "--energy-unit", "MWh")
    assert added.returncode == 0, added.stderr
    listed = temix("market-context", "list")
    assert "http://m.example/ctx" in listed.stdout and "Europe/Berlin" in listed.stdout and "MWh" in listed.stdout
    again = temix("market-context", "add", "http://m.example/ctx")
    assert again.returncode == 1 and "already registered" in again.stderr
    bad = temix("market-context", "add", "http://m.example/other", "--timezone", "Mars/Base")
    assert bad.returncode == 1 and "Mars/Base" in bad.stderr


def test_a_market_contexts_currency_is_an_iso_code_of_the_schemas_in_capitals(temix):
    """Its terms are sent as emix:currency, which takes the schemas' ISO 4217 codes only."""
    unknown = temix("market-context", "add", "http://m.example/xyz", "--currency", "XYZ")
    assert unknown.returncode == 1 and "XYZ is not an ISO 4217 currency code" in unknown.stderr
    lower = temix("market-context", "add", "http://m.example/eur", "--currency", "eur")
    assert lower.returncode == 0, lower.stderr
    assert "EUR" in temix("market-context", "list").stdout


def trade(service):
    service.call("/EiTender", msg.create_tender("r1", "party-A", "party-B", ("t1", msg.product(quantity="2", scale="M", price="80", energy_scale="M"))))
    reply = service.call("/EiTransaction", msg.create_transaction("a1", "party-B", "party-A", ("x1", "t1", msg.product(side="buy", quantity="2", scale="M", price="80", energy_scale="M", state="transaction"))))
    assert reply.code == "200"


def test_positions_prints_the_profile_and_plots_it(service, temix, database_url, tmp_path):
    trade(service)
    png = tmp_path / "positions.png"
    shown = temix(
        "positions", "party-A", "--from", "2030-01-01T09:00:00Z", "--to", "2030-01-01T12:00:00Z",
        "--resolution", "PT1H", "--plot", str(png), env={"DATABASE_URL": database_url},
    )
    assert shown.returncode == 0, shown.stderr
    rows = [line.split() for line in shown.stdout.splitlines() if line.strip().startswith("2030-01-01")]
    assert [(r[1], r[3], r[4], r[5]) for r in rows] == [
        ("09:00", "0.000", "0.000", "0.000"),
        ("10:00", "2,000.000", "2,000.000", "160.000"),
        ("11:00", "0.000", "0.000", "0.000"),
    ]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_check_positions_finds_a_tampered_position(service, temix, database_url, engine):
    trade(service)
    assert temix("db", "check-positions", env={"DATABASE_URL": database_url}).returncode == 0
    with engine.begin() as conn:
        conn.execute(text("UPDATE position_change SET rate_kw = rate_kw + 1 WHERE party_id = 'party-A' AND rate_kw > 0"))
    checked = temix("db", "check-positions", env={"DATABASE_URL": database_url})
    assert checked.returncode == 1
    assert "party-A" in checked.stdout and "1 positions disagree" in checked.stdout
