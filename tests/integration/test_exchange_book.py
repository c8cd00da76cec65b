"""EiRequestBook through the pipeline on PostgreSQL: the price levels of an exchange's books
follow orders, fills and cancels; only the market context's parties read them; reading
writes nothing."""

from decimal import Decimal

import pytest
from sqlalchemy import text

from service.soap.ns import EMIX, POWER, TEMIX, q
from tests.support import messages as msg
from tests.support import write_audit
from tests.support.exchange import CTX, cancel, open_exchange, order

A, B, C = "party-A", "party-B", "party-C"
OTHER = "http://other.example/ctx"


@pytest.fixture
def exchange(engine, service):
    return open_exchange(engine)


def book(service, party=A, request_id="book-1", **filters):
    """The reply, and {(node, start): {"bid"|"offer": [(price, kW, orders)]}}."""
    reply = service.call("/EiTender", msg.request_book(request_id, party, CTX, **filters), as_party=party)
    shown = {}
    for found in reply.payload.iter(q(TEMIX, "book")):
        node = found.findtext(f".//{q(POWER, 'node')}") or found.findtext(f".//{q(POWER, 'pointOfDelivery')}")
        start = found.findtext("{*}dtStart/{*}dateTime")
        shown[(node, start)] = {
            side: [
                (Decimal(level.findtext(q(TEMIX, "price"))), Decimal(level.findtext(q(TEMIX, "rate"))),
                 int(level.findtext(q(TEMIX, "orders"))))
                for level in found.iter(q(TEMIX, side))
            ]
            for side in ("bid", "offer")
        }
    return reply, shown


HOUR = ("NODE-1", "2030-01-01T10:00:00Z")


def test_levels_sum_resting_orders_and_follow_fills_and_cancels(service, engine, exchange):
    order(service, A, "a1", "sell", 5, "0.10")
    order(service, C, "c1", "sell", 5, "0.09")
    order(service, A, "a2", "sell", 4, "0.09")
    order(service, B, "b1", "buy", 3, "0.07")
    order(service, C, "c2", "buy", 2, "0.07")
    order(service, B, "b2", "buy", 1, "0.08")
    reply, shown = book(service)
    assert reply.code == "200", reply.description
    assert shown == {HOUR: {
        "bid": [(Decimal("0.08"), Decimal(1), 1), (Decimal("0.07"), Decimal(5), 2)],
        "offer": [(Decimal("0.09"), Decimal(9), 2), (Decimal("0.10"), Decimal(5), 1)],
    }}
    order(service, B, "b3", "buy", 7, "0.09")  # takes c1's 5 and 2 of a2's 4
    assert book(service)[1][HOUR]["offer"] == [(Decimal("0.09"), Decimal(2), 1), (Decimal("0.10"), Decimal(5), 1)]
    assert cancel(service, A, "a2").code == "200"
    assert cancel(service, C, "c2").code == "200"
    _, shown = book(service, depth=1)
    assert shown[HOUR] == {"bid": [(Decimal("0.08"), Decimal(1), 1)], "offer": [(Decimal("0.10"), Decimal(5), 1)]}


def test_each_product_is_its_own_book_and_filters_narrow_them(service, engine, exchange):
    order(service, A, "a1", "sell", 5, "0.10")
    order(service, A, "a2", "sell", 5, "0.11", node="NODE-2")
    order(service, A, "a3", "sell", 5, "0.12", start="2030-01-01T12:00:00Z")
    order(service, A, "quote", "sell", 5, "0.05", state="indicationOfInterest")  # quotes are not in books
    _, shown = book(service)
    assert set(shown) == {HOUR, ("NODE-2", "2030-01-01T10:00:00Z"), ("NODE-1", "2030-01-01T12:00:00Z")}
    assert shown[HOUR]["offer"] == [(Decimal("0.10"), Decimal(5), 1)]
    assert set(book(service, node="NODE-2")[1]) == {("NODE-2", "2030-01-01T10:00:00Z")}
    later = book(service, start="2030-01-01T11:30:00Z", duration="PT1H")[1]
    assert set(later) == {("NODE-1", "2030-01-01T12:00:00Z")}
    at_node_later = book(service, node="NODE-1", start="2030-01-01T11:30:00Z", duration="PT1H")[1]
    assert set(at_node_later) == {("NODE-1", "2030-01-01T12:00:00Z")}
    assert book(service, node="NODE-1", start="2030-01-01T08:00:00Z", duration="PT2H")[1] == {}
    assert book(service, kind="transport")[1] == {}


def test_expired_orders_and_started_books_are_not_shown(service, engine, exchange, clock):
    order(service, A, "a1", "sell", 5, "0.10", expires="2029-12-31T13:00:00Z")
    order(service, A, "a2", "sell", 5, "0.11", start="2029-12-31T14:00:00Z")
    assert set(book(service)[1]) == {HOUR, ("NODE-1", "2029-12-31T14:00:00Z")}
    clock.advance(hours=3)
    assert book(service)[1] == {}


def test_a_party_not_enrolled_in_the_market_context_is_refused_with_403(service, engine, exchange):
    open_exchange(engine, OTHER)
    reply = service.call("/EiTender", msg.request_book("other", A, OTHER), as_party=A)
    assert reply.code == "403" and "not enrolled" in reply.description
    assert reply.payload.find(q(TEMIX, "book")) is None
    unknown = service.call("/EiTender", msg.request_book("unknown", A, "urn:nowhere"), as_party=A)
    assert unknown.code == "462"


def test_the_reply_names_no_party_and_no_tender(service, engine, exchange):
    order(service, B, "b-secret-tender", "buy", 5, "0.09")
    reply, _ = book(service)
    text_of_reply = reply.body.decode()
    assert "b-secret-tender" not in text_of_reply and B not in text_of_reply
    assert reply.payload.findtext(f".//{q(EMIX, 'marketContext')}") == CTX


def test_reading_the_book_writes_nothing_and_logs_nothing(service, engine, exchange):
    order(service, A, "a1", "sell", 5, "0.10")
    with engine.connect() as conn:
        since = write_audit.mark(conn)
    for _ in range(2):  # the same requestID twice: a read, asked again
        assert book(service, request_id="same")[0].code == "200"
    assert service.call("/EiTender", msg.request_book("no", A, OTHER), as_party=A).code == "403"
    with engine.connect() as conn:
        writes, logged, shrunk = write_audit.writes_since(conn, since)
        assert (writes, logged, shrunk) == ({}, [], [])
        assert conn.execute(text("SELECT count(*) FROM request_log WHERE request_id = 'same'")).scalar_one() == 0
