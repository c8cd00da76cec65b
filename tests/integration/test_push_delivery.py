"""Push on the real database: fills write the outbox in their own transaction, and the push
worker delivers it to a real receiving SOAP server over HTTP, once, in order per party,
with several workers at once, and after the receiver was down."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from service.config import Settings
from service.push import push_until_done
from service.store.outbox import list_outbox, set_callback_url
from tests.support.exchange import EXCHANGE, fills, open_exchange, order
from tests.support.receiver import running_receiver

A, B, C = "party-A", "party-B", "party-C"


@pytest.fixture
def receiver():
    with running_receiver() as running:
        yield running


@pytest.fixture
def pushing(engine, service, receiver):
    """A and B push to the receiver; C only pulls. The exchange of CTX is open."""
    open_exchange(engine)
    with engine.begin() as conn:
        for party in (A, B):
            assert set_callback_url(conn, party, receiver.url) == (True, None)
    return receiver


@pytest.fixture
def settings(tmp_path):
    return Settings.from_env(environ={}, data_dir=tmp_path, database_url="postgresql://unused/")


def outbox(engine, **narrowing):
    with engine.connect() as conn:
        return list_outbox(conn, **narrowing)


def push(engine, settings, at=None):
    return push_until_done(engine, settings, clock=lambda: at or datetime.now(UTC))


def test_a_fill_writes_one_message_per_party_with_a_callback_url_in_fill_order(engine, service, pushing):
    order(service, A, "a1", "sell", 5, "0.10")
    order(service, C, "c1", "sell", 5, "0.09")
    assert outbox(engine) == []  # resting orders write nothing
    order(service, B, "b1", "buy", 8, "0.10")  # fills c1 (5 at 0.09), then a1 (3 at 0.10)
    rows = outbox(engine)
    assert len(fills(engine)) == 4  # B's two, C's one, A's one
    # C has no callback URL: its fill is pulled, not pushed
    assert [(row.party_id, row.state, row.attempts, row.sender_id) for row in rows] == [
        (B, "pending", 0, EXCHANGE), (B, "pending", 0, EXCHANGE), (A, "pending", 0, EXCHANGE),
    ]
    assert all(row.request_id == "push-" + row.transaction_id for row in rows)
    assert rows[0].transaction_id.endswith("-buy") and rows[2].transaction_id.endswith("-sell")


def test_a_refused_request_writes_no_message(engine, service, pushing):
    order(service, A, "a1", "sell", 5, "0.10")
    order(service, B, "b1", "buy", 1, "0.05")  # rests: b1 is taken
    reply = order(service, B, "b1", "buy", 5, "0.10")  # would fill a1, but its tenderID is used
    assert reply.code != "200"
    assert fills(engine) == []
    assert outbox(engine) == []


def test_the_worker_delivers_each_message_once_and_in_order(engine, service, pushing, settings):
    order(service, A, "a1", "sell", 5, "0.10")
    order(service, A, "a2", "sell", 5, "0.11")
    order(service, B, "b1", "buy", 7, "0.11")  # a1 5 at 0.10, a2 2 at 0.11
    tally = push(engine, settings)
    assert (tally.delivered, tally.failed) == (4, 0)
    assert push(engine, settings).delivered == 0  # nothing is sent twice
    got = {(r.party_id, r.tender_id, r.side, r.quantity, r.price) for r in pushing.received}
    assert got == {(B, "b1", "buy", "5", "0.1"), (B, "b1", "buy", "2", "0.11"),
                   (A, "a1", "sell", "5", "0.1"), (A, "a2", "sell", "2", "0.11")}
    rows = outbox(engine)
    for party in (A, B):
        assert pushing.requests_of(party) == [row.request_id for row in rows if row.party_id == party]
    assert all(r.sender_id == EXCHANGE for r in pushing.received)
    assert {row.state for row in rows} == {"delivered"}
    assert pushing.invalid == [] and pushing.redelivered == []


def test_two_workers_at_once_deliver_every_message_exactly_once_in_order(engine, service, pushing, settings):
    for n in range(12):
        order(service, A, f"a{n}", "sell", 1, "0.10")
        order(service, B, f"b{n}", "buy", 1, "0.10")
    assert len(outbox(engine)) == 24
    tallies = []
    start = threading.Barrier(2)

    def worker():
        start.wait()
        tallies.append(push(engine, settings))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(t.delivered for t in tallies) + sum(t.failed for t in tallies) <= 24
    push(engine, settings)  # anything a worker passed over because the other held its party
    rows = outbox(engine)
    assert {row.state for row in rows} == {"delivered"}
    assert pushing.redelivered == [] and pushing.invalid == []
    assert len(pushing.received) == 24
    for party in (A, B):
        assert pushing.requests_of(party) == [row.request_id for row in rows if row.party_id == party]


def test_a_receiver_that_is_down_gets_everything_in_order_once_it_is_back(engine, service, pushing, settings):
    now = datetime.now(UTC) + timedelta(seconds=1)
    order(service, A, "a1", "sell", 5, "0.10")
    order(service, B, "b1", "buy", 2, "0.10")
    order(service, B, "b2", "buy", 3, "0.10")
    pushing.down = True
    tally = push(engine, settings, now)
    assert (tally.delivered, tally.failed) == (0, 2)  # each party's head failed; the rest waited
    rows = outbox(engine)
    heads = [rows[0], rows[1]]
    assert [row.state for row in rows] == ["failed", "failed", "pending", "pending"]
    assert all(row.attempts == 1 and row.last_error.startswith("HTTP 503") for row in heads)
    assert all(row.next_attempt_at == now + timedelta(seconds=1) for row in heads)
    assert push(engine, settings, now).failed == 0  # not due again yet: nothing tried
    tally = push(engine, settings, now + timedelta(seconds=1))
    assert tally.failed == 2
    assert [row.next_attempt_at for row in outbox(engine)[:2]] == [now + timedelta(seconds=3)] * 2  # 1 s, then 2 s
    pushing.down = False
    tally = push(engine, settings, now + timedelta(hours=1))
    assert (tally.delivered, tally.failed) == (4, 0)
    rows = outbox(engine)
    assert [(row.state, row.attempts, row.last_error) for row in rows] == [
        ("delivered", 3, None), ("delivered", 3, None), ("delivered", 1, None), ("delivered", 1, None),
    ]
    for party in (A, B):
        assert pushing.requests_of(party) == [row.request_id for row in rows if row.party_id == party]


def test_a_redelivery_carries_the_same_request_id_and_the_receiver_takes_it_as_a_retry(engine, service, pushing, settings):
    order(service, A, "a1", "sell", 5, "0.10")
    order(service, B, "b1", "buy", 5, "0.10")
    push(engine, settings)
    with engine.begin() as conn:  # as if the worker died after sending, before recording it
        conn.exec_driver_sql("UPDATE outbox SET delivered_at = NULL")
    assert push(engine, settings).delivered == 2
    first = [r.request_id for r in pushing.received]
    assert sorted(pushing.redelivered) == sorted(first)
    assert len(pushing.received) == 2


def test_a_party_without_a_callback_url_any_more_keeps_its_messages_waiting(engine, service, pushing, settings):
    order(service, A, "a1", "sell", 5, "0.10")
    with engine.begin() as conn:
        set_callback_url(conn, A, None)
    order(service, B, "b1", "buy", 5, "0.10")  # A's fill: A has no URL now, so no message
    assert [row.party_id for row in outbox(engine)] == [B]
    with engine.begin() as conn:
        set_callback_url(conn, B, None)
    assert push(engine, settings).delivered == 0
    with engine.begin() as conn:
        set_callback_url(conn, B, pushing.url)
    assert push(engine, settings).delivered == 1


def test_an_endpoint_nobody_listens_on_is_a_failed_attempt_saying_so(engine, service, pushing, settings):
    with engine.begin() as conn:
        set_callback_url(conn, A, "http://127.0.0.1:9/EiTransaction")  # the discard port: refused
    order(service, A, "a1", "sell", 5, "0.10")
    order(service, B, "b1", "buy", 5, "0.10")
    tally = push(engine, settings)
    assert (tally.delivered, tally.failed) == (1, 1)
    (row,) = outbox(engine, party_id=A)
    assert row.state == "failed" and "refused" in row.last_error.lower(), row.last_error
