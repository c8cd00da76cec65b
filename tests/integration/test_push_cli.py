"""``temix party add --callback-url``, ``temix party callback``, ``temix outbox`` and
``temix outbox push`` as an operator runs them, audited."""

from __future__ import annotations

import json

from sqlalchemy import create_engine

from tests.support.exchange import EXCHANGE, open_exchange, order
from tests.support.receiver import running_receiver

A, B = "party-A", "party-B"


def audit_of(engine, kind):
    with engine.connect() as conn:
        return [
            (actor, party, details)
            for actor, party, details in conn.exec_driver_sql(
                "SELECT actor, party_id, details FROM audit_event WHERE kind = %s ORDER BY id", (kind,)
            )
        ]


def test_a_callback_url_is_set_changed_and_cleared_and_each_change_is_audited(temix, fresh_database_url):
    env = {"DATABASE_URL": fresh_database_url}
    added = temix("party", "add", "p1", "--password-stdin", "--callback-url", "http://p1.example/ei", stdin="pw", env=env)
    assert added.returncode == 0, added.stderr
    bad = temix("party", "callback", "p1", "--url", "file:///etc/passwd", env=env)
    assert bad.returncode == 2 and "http:// or https://" in bad.stderr
    changed = temix("party", "callback", "p1", "--url", "https://p1.example/ei2", env=env)
    assert changed.returncode == 0 and "fills pushed to https://p1.example/ei2" in changed.stdout
    again = temix("party", "callback", "p1", "--url", "https://p1.example/ei2", env=env)
    assert "(unchanged)" in again.stdout
    assert temix("party", "callback", "p1", env=env).stdout == "party p1: fills pushed to https://p1.example/ei2\n"
    cleared = temix("party", "callback", "p1", "--clear", env=env)
    assert cleared.returncode == 0 and "fills are not pushed" in cleared.stdout
    by_set = temix("party", "set", "p1", "--callback-url", "http://p1.example/ei3", env=env)
    assert by_set.returncode == 0 and "fills pushed to http://p1.example/ei3" in by_set.stdout
    assert temix("party", "set", "p1", "--no-callback-url", env=env).returncode == 0
    assert temix("party", "set", "p1", env=env).returncode == 2  # nothing to set
    unknown = temix("party", "callback", "nobody", "--clear", env=env)
    assert unknown.returncode == 1 and "no party nobody" in unknown.stderr
    engine = create_engine(fresh_database_url)
    try:
        assert audit_of(engine, "party.callback_set") == [
            ("operator:party add", "p1", {"callback_url": "http://p1.example/ei", "before": None}),
            ("operator:party callback", "p1", {"callback_url": "https://p1.example/ei2", "before": "http://p1.example/ei"}),
            ("operator:party callback", "p1", {"callback_url": None, "before": "https://p1.example/ei2"}),
            ("operator:party set", "p1", {"callback_url": "http://p1.example/ei3", "before": None}),
            ("operator:party set", "p1", {"callback_url": None, "before": "http://p1.example/ei3"}),
        ]
    finally:
        engine.dispose()


def test_outbox_shows_the_messages_and_outbox_push_delivers_them(temix, database_url, engine, service):
    env = {"DATABASE_URL": database_url}  # the database the in-process service writes
    open_exchange(engine)
    with running_receiver() as receiver:
        assert temix("party", "callback", A, "--url", receiver.url, env=env).returncode == 0
        order(service, A, "a1", "sell", 5, "0.10")
        order(service, B, "b1", "buy", 2, "0.10")  # B has no callback URL: only A's fill is pushed
        listed = temix("outbox", "--format", "json", env=env)
        assert listed.returncode == 0, listed.stderr
        (row,) = [json.loads(line) for line in listed.stdout.splitlines()]
        assert (row["party_id"], row["state"], row["attempts"], row["sender_id"]) == (A, "pending", 0, EXCHANGE)
        assert row["request_id"] == "push-" + row["transaction_id"]
        assert temix("outbox", "--state", "delivered", "--format", "json", env=env).stdout == ""
        pushed = temix("outbox", "push", env=env)
        assert pushed.returncode == 0, pushed.stderr
        assert "delivered 1, failed 0" in pushed.stdout
        assert [r.tender_id for r in receiver.received] == ["a1"]
        table = temix("outbox", "--party", A, env=env).stdout.splitlines()
        assert table[0].split()[:4] == ["ID", "PARTY", "TRANSACTION", "STATE"]
        assert table[1].split()[3] == "delivered"
        receiver.down = True
        order(service, B, "b2", "buy", 1, "0.10")
        failed = temix("outbox", "push", "--party", A, env=env)
        assert failed.returncode == 1 and "delivered 0, failed 1" in failed.stdout
        (row,) = [json.loads(line) for line in temix("outbox", "--state", "failed", "--format", "json", env=env).stdout.splitlines()]
        assert row["attempts"] == 1 and row["last_error"].startswith("HTTP 503")
