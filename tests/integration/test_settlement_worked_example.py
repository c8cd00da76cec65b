"""The README's settlement worked example, run: a REP (the balancing party) and a producer sell
to a customer, meters report what was delivered, the REP quotes real-time prices, settlement
books the imbalances; the transactions and every party's totals the README quotes, to the cent."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from lxml import etree

from service.cli.settle import settle_once
from service.domain.deliveries import MeterReading
from service.domain.intervals import Interval
from service.soap.ns import EMIX, TEMIX, q
from service.statement import build, plot
from service.store import positions
from service.store.markets import list_market_contexts, set_balancing
from service.store.settlement import verify_conservation
from service.store.uow import UnitOfWork
from tests.support import messages as msg
from tests.support import quote_messages as qmsg

REP, CUSTOMER, PRODUCER = "party-A", "party-B", "party-C"
CTX = "http://market.example.com/temix/ctx1"
T0 = datetime(2030, 1, 1, tzinfo=UTC)
WINDOW_END = T0 + timedelta(hours=2)
AFTER = T0 + timedelta(hours=3)  # when settlement runs: both hours' prices are final


def hour(h: int) -> str:
    return f"2030-01-01T{h:02d}:00:00Z"


def _trade(service, seller, buyer, quantity, price, name):
    """The seller tenders ``quantity`` kW for hours 0 and 1 to the buyer, who takes all."""
    tenders = [(f"{name}-h{h}", msg.product(side="sell", quantity=quantity, price=price, start=hour(h))) for h in (0, 1)]
    assert service.call("/EiTender", msg.create_tender(f"{name}-offer", seller, buyer, *tenders)).code == "200"
    accepted = [(f"{name}-buy-h{h}", f"{name}-h{h}", msg.product(side="buy", quantity=quantity, price=price, start=hour(h),
                                                               state="transaction")) for h in (0, 1)]
    assert service.call("/EiTransaction", msg.create_transaction(f"{name}-take", buyer, seller, *accepted)).code == "200"


def _read(engine, *readings):
    with UnitOfWork(engine) as uow:
        uow.deliveries.record(
            [MeterReading(party, CTX, "NODE-1", T0 + timedelta(hours=h), T0 + timedelta(hours=h + 1), injection, Decimal(kwh))
             for party, h, injection, kwh in readings],
            "operator", AFTER, "worked-example.csv",
        )
        uow.commit()


def _settle(engine):
    with engine.connect() as conn:
        market = {m.uri: m for m in list_market_contexts(conn)}[CTX]
    return settle_once(engine, market, Interval(T0, WINDOW_END), AFTER, "operator:settle")


def _booked(settled):
    return [(i.party_id, i.interval.start.hour, str(i.energy_kwh), i.side.value, str(i.rate_kw), str(i.price.price_per_kwh),
             str(i.value)) for _, i in settled.transactions]


def test_settling_the_worked_example_books_the_imbalances_and_every_total_to_the_cent(service, engine, tmp_path):
    with engine.begin() as conn:
        set_balancing(conn, CTX, REP, "PT5M")
    _trade(service, REP, CUSTOMER, "4", "0.10", "rep")  # the customer buys 4 kW each hour from the REP
    _trade(service, PRODUCER, CUSTOMER, "2", "0.08", "pv")  # and 2 kW each hour from the producer
    prices = [("rt-h0", msg.product(side="sell", quantity="1", price="0.16", start=hour(0), state="publication", uid="rt")),
              ("rt-h1", msg.product(side="sell", quantity="1", price="0.05", start=hour(1), state="publication", uid="rt")),
              ("rt-h1-late", msg.product(side="sell", quantity="1", price="0.50", start=hour(1), state="publication", uid="rt"))]
    assert service.call("/EiQuote", qmsg.create_quote("rt", REP, CTX, *prices), as_party=REP).code == "200"
    with engine.begin() as conn:  # published 10 minutes after hour 1 ended: past the 5-minute grace
        conn.exec_driver_sql("UPDATE quote SET created_at = %s WHERE quote_id = 'rt-h1-late'",
                             (T0 + timedelta(hours=2, minutes=10),))
        conn.exec_driver_sql("UPDATE quote SET created_at = %s WHERE quote_id <> 'rt-h1-late'", (T0,))

    _read(engine, (CUSTOMER, 0, False, "6.5"), (CUSTOMER, 1, False, "5.2"), (PRODUCER, 0, True, "1.5"))
    first = _settle(engine)
    assert _booked(first) == [
        (CUSTOMER, 0, "-0.5", "buy", "0.5", "0.16", "-0.08"),
        (PRODUCER, 0, "-0.5", "buy", "0.5", "0.16", "-0.08"),
        (CUSTOMER, 1, "0.8", "sell", "0.8", "0.05", "0.04"),
    ]
    assert [(u.party_id, u.interval.start.hour, u.reason) for u in first.unsettled] == [(PRODUCER, 1, "no reading")]
    assert _settle(engine).transactions == ()  # settling again changes nothing

    _read(engine, (PRODUCER, 1, True, "1.8"))  # the producer's late reading
    assert _booked(_settle(engine)) == [(PRODUCER, 1, "-0.2", "buy", "0.2", "0.05", "-0.01")]
    _read(engine, (PRODUCER, 1, True, "2.0"))  # corrected: the difference settles, nothing is rewritten
    assert _booked(_settle(engine)) == [(PRODUCER, 1, "0.2", "sell", "0.2", "0.05", "0.01")]

    window = Interval(T0, WINDOW_END)
    with engine.connect() as conn:
        markets = {m.uri: m for m in list_market_contexts(conn)}
    totals = {}
    for party in (REP, CUSTOMER, PRODUCER):
        (account,) = build(engine, party, window, markets).accounts
        lines = account.lines
        totals[party] = (str(lines["forward"].energy_kwh), str(lines["forward"].value),
                         str(lines["imbalance"].energy_kwh), str(lines["imbalance"].value), str(account.total_value))
        # the statement's position value is EiRequestPosition's
        reply = service.call("/EiTransaction", msg.request_position(f"p-{party}", party, hour(0), "PT2H", "PT1H"))
        steps = reply.payload.find(q(TEMIX, "position")).findall(q(TEMIX, "step"))
        assert sum(Decimal(s.findtext(q(TEMIX, "value"))) for s in steps) == account.position_value
        if party != REP:  # after settlement every position equals what was delivered
            delivered = {CUSTOMER: ["-6.5", "-5.2"], PRODUCER: ["1.5", "2"]}[party]
            assert [str(Decimal(s.findtext(q(TEMIX, "rate")))) for s in steps] == delivered
    assert totals == {
        CUSTOMER: ("-12", "-1.12", "0.3", "-0.04", "-1.16"),
        PRODUCER: ("4", "0.32", "-0.5", "-0.08", "0.24"),
        REP: ("8", "0.8", "0.2", "0.12", "0.92"),
    }
    # the imbalance transactions are transactions: listed, in transactive state delivery
    listed = service.call("/EiTransaction", msg.request_transaction("list", PRODUCER))
    states = [e.text for e in listed.payload.iter(q(EMIX, "transactiveState"))]
    assert states.count("delivery") == 3 and states.count("transaction") == 2, etree.tostring(listed.payload)
    with engine.connect() as conn:
        assert positions.verify(conn) == []
        assert verify_conservation(conn) == []
    with engine.begin() as conn:  # a settlement row that disagrees with its transaction is found
        conn.exec_driver_sql("UPDATE settlement SET imbalance_kwh = imbalance_kwh * 2 WHERE id = (SELECT min(id) FROM settlement)")
        problems = verify_conservation(conn)
        conn.rollback()
    assert len(problems) == 2 and "settled -1.0 kWh, its transaction moves -0.5 kWh with party-A" in problems[0]
    customer = build(engine, CUSTOMER, window, markets)
    figures = customer.figures[(CTX, "NODE-1")]
    assert [(str(f.position_kwh), str(f.delivered_kwh), str(f.imbalance_kwh), str(f.price_per_kwh)) for f in figures] == [
        ("-6", "-6.5", "-0.5", "0.16"), ("-6", "-5.2", "0.8", "0.05")]
    plot(customer, tmp_path / "customer.png")
    assert (tmp_path / "customer.png").stat().st_size > 10_000
