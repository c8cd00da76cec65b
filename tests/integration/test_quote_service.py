"""EiQuote through the whole stack, in-process, on the real PostgreSQL: quotes addressed to a
party or a market context, cancelled and requested, never actionable; and the trade prices
each market context publishes from its transactions and exercises. Every reply is checked
against the schemas by the client."""

from __future__ import annotations

from dataclasses import astuple
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from service.auth.passwords import hash_password
from service.soap.ns import EI, EMIX, POWER, q
from service.store.parties import Memberships, add_party
from service.store.tables import audit_event, distribution_recipient, quote, request_log, trade_price, transaction
from tests.support import messages as msg
from tests.support import option_messages as opt
from tests.support import quote_messages as qm

CTX = msg.CTX
OTHER_CTX = "http://other.example/ctx"
IOI = "indicationOfInterest"


@pytest.fixture
def market(service, engine):
    """The service's A, B, C (in CTX, C in group north) and X, enrolled elsewhere only."""
    with engine.begin() as conn:
        add_party(conn, "party-X", hash_password("secret-X"), None, *astuple(Memberships.of([OTHER_CTX])))
    service.passwords = {**service.passwords, "party-X": "secret-X"}
    return service


def create(service, rid, *quotes, to="party-B", party="party-A", headers=()):
    return service.call("/EiQuote", qm.create_quote(rid, party, to, *quotes), as_party=party, headers=headers)


def ask(service, requestor, publisher, rid="ask", **filters):
    return service.call("/EiQuote", qm.request_quote(rid, requestor, publisher, **filters), as_party=requestor)


def quote_ids(reply) -> list[str]:
    assert reply.code == "200", reply.description
    return [item.findtext(q(EI, "quoteID")) for item in reply.payload.iter(q(EI, "eiQuote"))]


def count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_a_quote_is_created_shown_to_its_subscriber_as_sent_and_cancelled(market, engine):
    products = [msg.product(state=IOI, price="0.07"), msg.product(state="publication", start="2030-01-01T11:00:00Z", uid="p2")]
    reply = create(market, "c1", ("q1", products))
    assert reply.code == "200", reply.description
    assert reply.payload.findtext(q(EI, "subscriberPartyID")) == "party-B"
    assert reply.payload.findtext(q(EI, "publisherPartyID")) == "party-A"
    assert reply.payload.findtext(q(EI, "quoteID")) == "q1"
    shown = ask(market, "party-B", "party-A")
    assert quote_ids(shown) == ["q1"]
    assert [p.findtext(q(EMIX, "uid")) for p in shown.payload.iter(q(EMIX, "product"))] == ["product-1", "p2"]
    assert quote_ids(ask(market, "party-C", "party-A")) == []  # another pair's
    assert market.call("/EiQuote", qm.cancel_quote("x1", "party-A", "q1"), as_party="party-A").code == "200"
    assert quote_ids(ask(market, "party-B", "party-A")) == []
    assert market.call("/EiQuote", qm.cancel_quote("x2", "party-A", "q1"), as_party="party-A").code == "410"


def test_a_quote_to_a_market_context_reaches_its_enrollees_narrowed_by_the_scope(market, engine):
    assert create(market, "c1", ("q1", msg.product(state=IOI)), to=CTX).code == "200"
    scope = [msg.distribution_scope(groups=["north"])]
    assert create(market, "c2", ("q2", msg.product(state=IOI)), to=CTX, headers=scope).code == "200"
    assert quote_ids(ask(market, "party-B", "party-A")) == ["q1"]
    assert quote_ids(ask(market, "party-C", "party-A")) == ["q1", "q2"]
    assert quote_ids(ask(market, "party-X", "party-A")) == []
    assert quote_ids(ask(market, "party-A", "party-A")) == ["q1", "q2"]  # its own
    assert count(engine, distribution_recipient) == 3  # B, C; then C: never a row per quote
    assert quote_ids(ask(market, "party-C", "party-A", quote_ids=["q2"])) == ["q2"]
    assert quote_ids(ask(market, "party-C", "party-A", market_contexts=[OTHER_CTX])) == []
    assert quote_ids(ask(market, "party-C", "party-A", intervals=["2030-01-01T12:00:00Z/PT1H"])) == []


@pytest.mark.parametrize(
    "change, code",
    [
        (dict(to="party-Z"), "404"),  # unknown subscriber party
        (dict(to="party-A"), "400"),  # yourself
        (dict(party="party-X"), "403"),  # publisher not enrolled in CTX
        (dict(product=msg.product(state="tender")), "400"),
        (dict(product=msg.product(state=IOI, market_context="http://unknown.example/ctx")), "462"),
        (dict(headers=[msg.distribution_scope(groups=["north"])]), "400"),  # a scope on a quote to one party
        (dict(to=CTX, headers=[msg.distribution_scope(groups=["south"])]), "404"),  # reaches nobody
    ],
)
def test_a_refused_quote_writes_nothing_and_its_retry_gets_the_same_answer(market, engine, change, code):
    product = change.pop("product", msg.product(state=IOI))
    first = create(market, "c1", ("q1", product), **change)
    assert first.code == code, first.description
    assert create(market, "c1", ("q1", product), **change).body == first.body
    assert count(engine, quote) == 0


def test_a_retry_gets_the_first_answer_and_a_reused_request_id_463(market, engine):
    first = create(market, "c1", ("q1", msg.product(state=IOI)))
    assert create(market, "c1", ("q1", msg.product(state=IOI))).body == first.body
    assert create(market, "c1", ("q2", msg.product(state=IOI))).code == "463"
    assert create(market, "c2", ("q1", msg.product(state=IOI))).code == "409"
    assert count(engine, quote) == 1
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(request_log)).scalar_one() == 2  # c1, and c2 refused


def test_the_publisher_must_be_the_authenticated_party(market):
    reply = market.call("/EiQuote", qm.create_quote("c1", "party-B", "party-C", ("q1", msg.product(state=IOI))), as_party="party-A")
    assert reply.is_fault and reply.faultcode.endswith("NotAuthorized")


def test_a_transaction_naming_a_quote_is_refused_with_461_and_writes_nothing(market, engine):
    create(market, "c1", ("q1", msg.product(state=IOI)))
    accepting = msg.create_transaction("a1", "party-B", "party-A", ("x1", "q1", msg.product(side="buy", state="transaction")))
    reply = market.call("/EiTransaction", accepting)
    assert reply.code == "461" and "quote" in reply.description
    assert count(engine, transaction) == 0 and count(engine, trade_price) == 0


def published(reply) -> list[dict]:
    """Each published trade price: its ID, and each product's uid -> (price, quantity)."""
    found = []
    for item in reply.payload.iter(q(EI, "eiQuote")):
        products = {
            p.findtext(q(EMIX, "uid")): (p.findtext(f".//{q(EMIX, 'value')}"), p.findtext(f".//{q(EMIX, 'quantity')}"))
            for p in item.iter(q(EMIX, "product"))
        }
        states = {p.findtext(q(EMIX, "transactiveState")) for p in item.iter(q(EMIX, "product"))}
        assert states == {"publication"}
        found.append(dict(id=item.findtext(q(EI, "quoteID")), **products))
    return found


def test_transactions_and_exercises_publish_last_price_vwap_and_energy_to_the_market(market, engine):
    for tid, to, price in (("t1", "party-B", "0.10"), ("t2", "party-C", "0.20")):
        assert market.call("/EiTender", msg.create_tender(f"c-{tid}", "party-A", to, (tid, msg.product(price=price, currency=None)))).code == "200"
    # no currency, as the option below: prices in different currencies are published apart
    accept = msg.create_transaction("a1", "party-B", "party-A", ("x1", "t1", msg.product(side="buy", state="transaction", price="0.10", quantity="2", currency=None)))
    assert market.call("/EiTransaction", accept).code == "200"
    accept = msg.create_transaction("a2", "party-C", "party-A", ("x2", "t2", msg.product(side="buy", state="transaction", price="0.20", quantity="6", currency=None)))
    assert market.call("/EiTransaction", accept).code == "200"
    (price,) = published(ask(market, "party-B", CTX))
    assert price["last"] == ("0.2", None)
    assert price["vwap"] == ("0.175", "8")  # (2 x 0.10 + 6 x 0.20) / 8 kWh
    assert published(ask(market, "party-C", CTX, quote_ids=[price["id"]])) == [price]
    assert b"party-" not in ask(market, "party-B", CTX).body.replace(b"party-B", b"")  # no names
    assert ask(market, "party-X", CTX).code == "403"
    # an option's premium is not published; its exercise, at the strike, is
    assert market.call("/EiTender", msg.create_tender("r-opt", "party-A", "party-B", ("opt-1", opt.option()))).code == "200"
    take = msg.create_transaction("a-opt", "party-B", "party-A", ("opt-x", "opt-1", opt.option(side="buy", state="transaction")))
    assert market.call("/EiTransaction", take).code == "200"
    assert len(published(ask(market, "party-B", CTX))) == 1
    exercise = opt.exercise_option("e1", "party-B", "party-A", "opt-x", ("ex-1", "2030-01-01T10:00:00Z", "PT1H", "4"))
    assert market.call("/EiTransaction", exercise).code == "200"
    (price,) = published(ask(market, "party-B", CTX))
    assert price["last"] == ("0.1", None)
    assert price["vwap"] == ("0.15", "12")  # (1.4 + 4 x 0.10) / 12 kWh
    with engine.connect() as conn:
        assert conn.execute(select(trade_price.c.trades, trade_price.c.energy_kwh)).one() == (3, Decimal("12"))


def test_a_refused_transaction_publishes_nothing(market, engine):
    assert market.call("/EiTender", msg.create_tender("c-t1", "party-A", "party-B", ("t1", msg.product(quantity="2")))).code == "200"
    accept = msg.create_transaction(
        "a1", "party-B", "party-A",
        ("x1", "t1", msg.product(side="buy", state="transaction", quantity="1")),
        ("x2", "t1", msg.product(side="buy", state="transaction", quantity="5")),  # more than remains: 460
    )
    assert market.call("/EiTransaction", accept).code == "460"
    assert count(engine, trade_price) == 0
    assert published(ask(market, "party-B", CTX)) == []


def test_transport_trades_are_published_per_interface(market):
    product = dict(receipt="NODE-0", price="0.01")
    assert market.call("/EiTender", msg.create_tender("c1", "party-A", "party-B", ("t1", msg.product(**product)))).code == "200"
    accept = msg.create_transaction("a1", "party-B", "party-A", ("x1", "t1", msg.product(side="buy", state="transaction", **product)))
    assert market.call("/EiTransaction", accept).code == "200"
    reply = ask(market, "party-B", CTX)
    assert reply.payload.findtext(f".//{q(POWER, 'pointOfReceipt')}") == "NODE-0"


def test_quotes_created_and_cancelled_are_in_the_audit_trail(market, engine):
    assert create(market, "c1", ("q1", [msg.product(state=IOI)])).code == "200"
    assert market.call("/EiQuote", qm.cancel_quote("x1", "party-A", "q1"), as_party="party-A").code == "200"
    assert create(market, "c2", ("q1", [msg.product(state=IOI)])).code == "409"  # refused: nothing recorded
    with engine.connect() as conn:
        rows = conn.execute(
            select(audit_event.c.kind, audit_event.c.actor, audit_event.c.request_id, audit_event.c.party_id,
                   audit_event.c.counterparty_id, audit_event.c.details).order_by(audit_event.c.id)
        ).all()
    assert [tuple(row[:5]) for row in rows] == [
        ("quote.created", "party-A", "c1", "party-A", "party-B"),
        ("quote.cancelled", "party-A", "x1", "party-A", "party-B"),
    ]
    assert rows[0].details == {"quote_id": "q1", "products": 1, "recipients": 1}


@pytest.mark.parametrize(
    "cancelled, subscriber, code",
    [
        (("q1", "nowhere"), None, "404"),  # one unknown: none cancelled
        (("q1",), "party-C", "404"),  # not published to the subscriber named
        (("q1", "q-gone"), None, "410"),  # one cancelled already
    ],
)
def test_a_refused_cancellation_cancels_none_writes_nothing_and_its_retry_gets_the_same_answer(
    market, engine, cancelled, subscriber, code
):
    assert create(market, "c1", ("q1", msg.product(state=IOI)), ("q-gone", msg.product(state=IOI))).code == "200"
    assert market.call("/EiQuote", qm.cancel_quote("x0", "party-A", "q-gone"), as_party="party-A").code == "200"
    with engine.connect() as conn:
        before = conn.execute(select(quote.c.quote_id, quote.c.cancelled_at).order_by(quote.c.quote_id)).all()
    events = count(engine, audit_event)
    cancelling = qm.cancel_quote("x1", "party-A", *cancelled, subscriber=subscriber)
    first = market.call("/EiQuote", cancelling, as_party="party-A")
    assert first.code == code, first.description
    assert market.call("/EiQuote", cancelling, as_party="party-A").body == first.body
    with engine.connect() as conn:
        assert conn.execute(select(quote.c.quote_id, quote.c.cancelled_at).order_by(quote.c.quote_id)).all() == before
    assert count(engine, audit_event) == events
    assert quote_ids(ask(market, "party-B", "party-A")) == ["q1"]
