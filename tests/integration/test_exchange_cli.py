"""``temix market-context add|set --exchange``, the reserved party ID, and check-positions
finding an exchange that is not flat."""

from sqlalchemy import create_engine

CTX = "http://market.example.com/temix/x1"


def test_an_exchange_is_started_and_stopped_and_its_party_id_is_reserved(temix, fresh_database_url):
    env = {"DATABASE_URL": fresh_database_url}
    added = temix("market-context", "add", CTX, "--exchange", env=env)
    assert added.returncode == 0, added.stderr
    assert f"its exchange trades as {CTX}#exchange" in added.stdout
    assert f"{CTX}#exchange" in temix("market-context", "list", env=env).stdout
    stopped = temix("market-context", "set", CTX, "--no-exchange", env=env)
    assert stopped.returncode == 0 and "runs no exchange" in stopped.stdout
    assert temix("market-context", "set", "http://nowhere/ctx", "--exchange", env=env).returncode != 0
    reserved = temix("party", "add", f"{CTX}#exchange", "--password-stdin", stdin="pw", env=env)
    assert reserved.returncode != 0 and "reserved" in reserved.stderr
    publisher = temix("party", "add", CTX, "--password-stdin", stdin="pw", env=env)  # its trade prices' publisher ID
    assert publisher.returncode != 0 and "market context's URI" in publisher.stderr
    assert temix("party", "add", "urn:p1", "--password-stdin", stdin="pw", env=env).returncode == 0
    taken = temix("market-context", "add", "urn:p1", env=env)
    assert taken.returncode != 0 and "is a party's ID" in taken.stderr
    assert "urn:p1" not in temix("market-context", "list", env=env).stdout
    assert temix("db", "check-positions", env=env).returncode == 0
    engine = create_engine(fresh_database_url)
    with engine.begin() as conn:  # a one-sided change point: what a broken fill would leave
        conn.exec_driver_sql(
            "INSERT INTO position_change VALUES (%s, %s, 'energy', '', 'N', '2030-01-01T10:00Z', 1, 0.1)",
            (f"{CTX}#exchange", CTX),
        )
    engine.dispose()
    checked = temix("db", "check-positions", env=env)
    assert checked.returncode == 1 and f"exchange {CTX}#exchange is not flat" in checked.stdout
