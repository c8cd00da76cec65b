"""Options on power: tendered, accepted (premium), exercised at the strike price."""

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from service.soap.ns import EI, EMIX, TEMIX, q
from service.store import positions
from service.store.tables import position_change, transaction
from tests.support import messages as msg
from tests.support import option_messages as opt

H10 = "2030-01-01T10:00:00Z"


def hourly(service, party, start="2030-01-01T09:00:00Z", duration="PT6H"):
    reply = service.call("/EiTransaction", msg.request_position(f"p-{party}-{start}", party, start, duration, "PT1H"))
    position = reply.payload.find(q(TEMIX, "position"))
    if position is None:
        return []
    return [(Decimal(s.findtext(q(TEMIX, "rate"))), Decimal(s.findtext(q(TEMIX, "value")))) for s in position.findall(q(TEMIX, "step"))]


@pytest.fixture
def call_option(service):
    """A (REP) writes a 10 kW call on 10:00-14:00, strike 0.10, premium 0.01; B holds it."""
    assert service.call("/EiTender", msg.create_tender("r-opt", "party-A", "party-B", ("opt-1", opt.option()))).code == "200"
    reply = service.call(
        "/EiTransaction",
        msg.create_transaction("a-opt", "party-B", "party-A", ("opt-x", "opt-1", opt.option(side="buy", state="transaction"))),
    )
    assert reply.code == "200", reply.description
    return "opt-x"


def exercise(service, rid, *exercises, party="party-B", writer="party-A", option_id="opt-x"):
    return service.call("/EiTransaction", opt.exercise_option(rid, party, writer, option_id, *exercises))


def test_option_tender_is_shown_and_accepted_without_moving_positions(service, engine, call_option):
    shown = service.call("/EiTender", msg.request_tender("q1", "party-B")).payload
    assert shown.find(f".//{q(EMIX, 'emixOption')}") is None  # fully accepted: no longer standing
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(position_change)).scalar_one() == 0
    listed = service.call("/EiTransaction", msg.request_transaction("l1", "party-A")).payload
    assert listed.find(f".//{q(EMIX, 'emixOption')}/{q(EMIX, 'side')}").text == "sell"


def test_accepting_an_option_on_other_option_terms_is_refused(service):
    service.call("/EiTender", msg.create_tender("r-opt", "party-A", "party-B", ("opt-1", opt.option())))
    for rid, change in (("a1", dict(strike="0.11")), ("a2", dict(option_type="put")), ("a3", dict(holder_side="sell"))):
        reply = service.call("/EiTransaction", msg.create_transaction(rid, "party-B", "party-A", ("x", "opt-1", opt.option(side="buy", state="transaction", **change))))
        assert reply.code == "412", (rid, reply.description)
    plain = service.call("/EiTransaction", msg.create_transaction("a4", "party-B", "party-A", ("x", "opt-1", msg.product(side="buy", state="transaction", duration="PT4H"))))
    assert plain.code == "412" and "option" in plain.description


def test_holder_exercises_a_call_and_buys_at_the_strike(service, engine, call_option):
    reply = exercise(service, "e1", ("ex-1", "2030-01-01T11:00:00Z", "PT2H", "6"))
    assert reply.code == "200", reply.description
    assert reply.payload.findtext(q(EI, "transactionID")) == "ex-1"
    holder = hourly(service, "party-B")
    assert [rate for rate, _ in holder] == [0, 0, -6, -6, 0, 0]
    assert holder[2][1] == Decimal("-0.6")  # pays 6 kWh x 0.10
    assert [rate for rate, _ in hourly(service, "party-A")] == [0, 0, 6, 6, 0, 0]
    seen = service.call("/EiTransaction", msg.request_transaction("l1", "party-B", transaction_ids=["ex-1"])).payload
    assert seen.findtext(f".//{q(EMIX, 'transactiveState')}") == "exercise"
    assert seen.findtext(f".//{q(EMIX, 'side')}") == "buy"
    assert seen.findtext(f".//{q(EMIX, 'value')}") == "0.10"
    with engine.connect() as conn:
        assert positions.verify(conn) == []


def test_exercises_together_never_exceed_the_option(service, call_option):
    assert exercise(service, "e1", ("ex-1", H10, "PT2H", "6")).code == "200"
    assert exercise(service, "e2", ("ex-2", "2030-01-01T11:00:00Z", "PT1H", "5")).code == "460"
    assert exercise(service, "e3", ("ex-3", "2030-01-01T11:00:00Z", "PT2H", "4")).code == "200"
    assert exercise(service, "e4", ("ex-4", "2030-01-01T13:00:00Z", "PT1H", "10")).code == "200"
    assert [rate for rate, _ in hourly(service, "party-B")] == [0, -6, -10, -4, -10, 0]


def test_exercise_rules(service, clock, call_option):
    cases = [
        ("e1", ("x1", "2030-01-01T13:00:00Z", "PT2H", "1"), "400", "outside"),
        ("e2", ("x2", "2030-01-01T10:30:00Z", "PT1H", "1"), "400", "steps"),
        ("e3", ("x3", H10, "PT90M", "1"), "400", "steps"),
        ("e4", ("x4", H10, "PT1H", "11"), "460", "allow"),
        ("e5", ("x5", H10, "PT1H", "0"), "400", "positive"),
    ]
    for rid, one, code, words in cases:
        reply = exercise(service, rid, one)
        assert reply.code == code and words in reply.description, (rid, reply.description)
    clock.now = clock.now.replace(year=2030, month=1, day=1, hour=9, minute=30)
    late = exercise(service, "e6", ("x6", H10, "PT1H", "1"))
    assert late.code == "400" and "Too late" in late.description
    assert exercise(service, "e7", ("x7", "2030-01-01T11:00:00Z", "PT1H", "1")).code == "200"


def test_only_the_holder_exercises(service, call_option):
    assert exercise(service, "e1", ("x1", H10, "PT1H", "1"), party="party-A", writer="party-B").code == "403"
    assert exercise(service, "e2", ("x2", H10, "PT1H", "1"), party="party-C").code == "404"
    assert exercise(service, "e3", ("x3", H10, "PT1H", "1"), option_id="nope").code == "404"


def test_put_holder_sells_at_the_strike(service):
    service.call("/EiTender", msg.create_tender("r-put", "party-A", "party-B", ("put-1", opt.option(option_type="put", side="buy", holder_side="buy"))))
    # B sells the option to A: A (on the buy side) holds it and may sell energy to B
    accepted = service.call("/EiTransaction", msg.create_transaction("a-put", "party-B", "party-A", ("put-x", "put-1", opt.option(option_type="put", side="sell", holder_side="buy", state="transaction"))))
    assert accepted.code == "200", accepted.description
    done = exercise(service, "e1", ("x1", H10, "PT1H", "3"), party="party-A", writer="party-B", option_id="put-x")
    assert done.code == "200", done.description
    assert [rate for rate, _ in hourly(service, "party-A")][1] == 3


def test_exercise_retry_is_applied_once(service, engine, call_option):
    payload = opt.exercise_option("e1", "party-B", "party-A", "opt-x", ("ex-1", H10, "PT1H", "6"))
    first = service.call("/EiTransaction", payload)
    assert service.call("/EiTransaction", payload).body == first.body
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(transaction).where(transaction.c.option_transaction_pk.is_not(None))).scalar_one() == 1


def test_transport_option_exercise_makes_a_transport_transaction(service):
    terms = dict(node="B", receipt="A")
    service.call("/EiTender", msg.create_tender("r-t", "party-A", "party-B", ("topt", opt.option(**terms))))
    accepted = service.call("/EiTransaction", msg.create_transaction("a-t", "party-B", "party-A", ("topt-x", "topt", opt.option(side="buy", state="transaction", **terms))))
    assert accepted.code == "200", accepted.description
    assert exercise(service, "e-t", ("tx-1", H10, "PT1H", "5"), option_id="topt-x").code == "200"
    reply = service.call("/EiTransaction", msg.request_position("p-t", "party-B", H10, "PT1H", "PT1H", kind="transport"))
    (position,) = reply.payload.iter(q(TEMIX, "position"))
    assert position.findtext(".//{http://docs.oasis-open.org/ns/emix/2011/06/power/cts.04}pointOfReceipt") == "A"
    assert Decimal(position.findtext(f".//{q(TEMIX, 'rate')}")) == -5
