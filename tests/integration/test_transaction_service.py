"""EiCreateTransaction, EiRequestTransaction and EiRequestPosition, in-process on PostgreSQL."""

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from service.soap.ns import EI, EMIX, TEMIX, q
from service.store import positions
from service.store.tables import position_change, tender, transaction
from tests.support import messages as msg


def offer(service, *tenders, party="party-A", to="party-B", rid="r-offer"):
    reply = service.call("/EiTender", msg.create_tender(rid, party, to, *tenders))
    assert reply.code == "200", reply.description
    return reply


def accept(service, rid, tender_id, product, party="party-B", maker="party-A", transaction_id=None):
    return service.call(
        "/EiTransaction",
        msg.create_transaction(rid, party, maker, (transaction_id or f"x-{rid}", tender_id, product)),
    )


def remaining(engine, tender_id) -> Decimal:
    with engine.connect() as conn:
        return conn.execute(select(tender.c.remaining_kw).where(tender.c.tender_id == tender_id)).scalar_one()


def count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def steps(reply):
    """[(start, rate, energy, value)] of the first position in an eiReplyPosition."""
    position = reply.payload.find(q(TEMIX, "position"))
    return [
        (
            s.findtext(".//{http://docs.oasis-open.org/ws-calendar/ns/min-xcal/2015/12}dateTime"),
            Decimal(s.findtext(q(TEMIX, "rate"))),
            Decimal(s.findtext(q(TEMIX, "energy"))),
            Decimal(s.findtext(q(TEMIX, "value"))),
        )
        for s in position.findall(q(TEMIX, "step"))
    ]


def test_partial_acceptance_leaves_the_rest_standing(service, engine):
    offer(service, ("t1", msg.product(side="sell", quantity="10")))
    reply = accept(service, "a1", "t1", msg.product(side="buy", quantity="4", state="transaction"))
    assert reply.code == "200", reply.description
    assert reply.payload.findtext(q(EI, "transactionID")) == "x-a1"
    assert remaining(engine, "t1") == 4 + 2
    shown = service.call("/EiTender", msg.request_tender("q1", "party-B")).payload
    assert shown.findtext(f".//{q(EMIX, 'quantity')}") == "6"


def test_accepting_everything_fills_the_tender(service, engine):
    offer(service, ("t1", msg.product(quantity="10")))
    assert accept(service, "a1", "t1", msg.product(side="buy", quantity="10", state="transaction")).code == "200"
    assert service.call("/EiTender", msg.request_tender("q1", "party-B")).payload.find(q(EI, "eiTender")) is None
    assert accept(service, "a2", "t1", msg.product(side="buy", quantity="1", state="transaction")).code == "410"


@pytest.mark.parametrize(
    "change, code",
    [
        (dict(side="sell"), "412"),
        (dict(price="0.09"), "412"),
        (dict(start="2030-01-01T11:00:00Z"), "412"),
        (dict(duration="PT2H"), "412"),
        (dict(node="NODE-2"), "412"),
        (dict(market_context="http://other.example/ctx"), "412"),
        (dict(currency="EUR"), "412"),
        (dict(quantity="10.5"), "460"),
        (dict(state="tender"), "400"),
    ],
)
def test_acceptance_on_other_terms_is_refused_and_changes_nothing(service, engine, change, code):
    offer(service, ("t1", msg.product(side="sell", quantity="10")))
    terms = dict(side="buy", quantity="5", state="transaction") | change
    reply = accept(service, "a1", "t1", msg.product(**terms))
    assert reply.code == code, reply.description
    assert remaining(engine, "t1") == 10
    assert count(engine, transaction) == 0
    assert count(engine, position_change) == 0


def test_same_price_in_other_units_is_the_same_price(service):
    offer(service, ("t1", msg.product(quantity="2", scale="M", price="80", energy_scale="M")))
    reply = accept(service, "a1", "t1", msg.product(side="buy", quantity="500", scale="k", price="0.08", state="transaction"))
    assert reply.code == "200", reply.description


def test_tender_addressed_to_another_party_cannot_be_accepted(service):
    offer(service, ("t1", msg.product()))
    assert accept(service, "a1", "t1", msg.product(side="buy", state="transaction"), party="party-C").code == "403"


def test_own_tender_cannot_be_accepted(service):
    offer(service, ("t1", msg.product()))
    assert accept(service, "a1", "t1", msg.product(side="buy", state="transaction"), party="party-A").code == "403"


def test_cancelled_and_expired_tenders_cannot_be_accepted(service, clock):
    offer(service, ("t1", msg.product()), ("t2", msg.product(expires="2030-01-01T09:00:00Z")))
    service.call("/EiTender", msg.cancel_tender("c1", "party-A", "t1"))
    assert accept(service, "a1", "t1", msg.product(side="buy", state="transaction")).code == "410"
    clock.now = clock.now.replace(year=2030, month=1, day=1, hour=9)
    reply = accept(service, "a2", "t2", msg.product(side="buy", state="transaction"))
    assert reply.code == "410" and "expired" in reply.description


def test_quote_is_never_accepted(service):
    offer(service, ("quote-1", msg.product(state="indicationOfInterest")))
    assert accept(service, "a1", "quote-1", msg.product(side="buy", state="transaction")).code == "461"


def test_integral_only_tender_is_accepted_whole_or_not_at_all(service):
    offer(service, ("t1", msg.product(quantity="10", integral_only="true")))
    assert accept(service, "a1", "t1", msg.product(side="buy", quantity="4", state="transaction")).code == "460"
    assert accept(service, "a2", "t1", msg.product(side="buy", quantity="10", state="transaction")).code == "200"


def test_unknown_tender_is_refused(service):
    assert accept(service, "a1", "nope", msg.product(side="buy", state="transaction")).code == "404"


def test_several_transactions_in_one_request_are_all_or_nothing(service, engine):
    offer(service, ("t1", msg.product(quantity="10")), ("t2", msg.product(quantity="10")))
    reply = service.call(
        "/EiTransaction",
        msg.create_transaction(
            "a1", "party-B", "party-A",
            ("x1", "t1", msg.product(side="buy", quantity="10", state="transaction")),
            ("x2", "t2", msg.product(side="buy", quantity="11", state="transaction")),
        ),
    )
    assert reply.code == "460"
    assert remaining(engine, "t1") == 10
    assert count(engine, transaction) == 0
    both = service.call(
        "/EiTransaction",
        msg.create_transaction(
            "a2", "party-B", "party-A",
            ("x1", "t1", msg.product(side="buy", quantity="6", state="transaction")),
            ("x2", "t1", msg.product(side="buy", quantity="4", state="transaction")),
        ),
    )
    assert both.code == "200"
    assert remaining(engine, "t1") == 0


def test_two_acceptances_of_one_tender_in_one_request_cannot_exceed_it(service, engine):
    offer(service, ("t1", msg.product(quantity="10")))
    reply = service.call(
        "/EiTransaction",
        msg.create_transaction(
            "a1", "party-B", "party-A",
            ("x1", "t1", msg.product(side="buy", quantity="6", state="transaction")),
            ("x2", "t1", msg.product(side="buy", quantity="6", state="transaction")),
        ),
    )
    assert reply.code == "460"
    assert remaining(engine, "t1") == 10


def test_duplicate_transaction_id_is_refused(service, engine):
    offer(service, ("t1", msg.product(quantity="10")))
    accept(service, "a1", "t1", msg.product(side="buy", quantity="1", state="transaction"), transaction_id="x1")
    reply = accept(service, "a2", "t1", msg.product(side="buy", quantity="1", state="transaction"), transaction_id="x1")
    assert reply.code == "409"
    assert remaining(engine, "t1") == 9


def test_retried_acceptance_is_applied_once(service, engine):
    offer(service, ("t1", msg.product(quantity="10")))
    payload = msg.create_transaction("a1", "party-B", "party-A", ("x1", "t1", msg.product(side="buy", quantity="3", state="transaction")))
    first = service.call("/EiTransaction", payload)
    second = service.call("/EiTransaction", payload)
    assert first.body == second.body
    assert remaining(engine, "t1") == 7
    assert count(engine, transaction) == 1


def test_each_party_sees_the_transaction_from_its_own_side(service):
    offer(service, ("t1", msg.product(side="buy", quantity="10")))
    accept(service, "a1", "t1", msg.product(side="sell", quantity="10", state="transaction"), transaction_id="x1")
    for party, side in (("party-B", "sell"), ("party-A", "buy")):
        reply = service.call("/EiTransaction", msg.request_transaction(f"q-{party}", party))
        shown = reply.payload.find(q(EI, "eiTransaction"))
        assert shown.findtext(q(EI, "transactionID")) == "x1"
        assert shown.findtext(q(EI, "tenderID")) == "t1"
        assert shown.findtext(f".//{q(EMIX, 'side')}") == side
    stranger = service.call("/EiTransaction", msg.request_transaction("q-c", "party-C"))
    assert stranger.payload.find(q(EI, "eiTransaction")) is None


def test_transaction_filters_narrow_the_list(service):
    offer(service, ("t1", msg.product()), ("t2", msg.product(start="2030-01-02T10:00:00Z")))
    offer(service, ("t3", msg.product()), party="party-C", rid="r-c")
    accept(service, "a1", "t1", msg.product(side="buy", state="transaction"), transaction_id="x1")
    accept(service, "a2", "t2", msg.product(side="buy", state="transaction", start="2030-01-02T10:00:00Z"), transaction_id="x2")
    accept(service, "a3", "t3", msg.product(side="buy", state="transaction"), maker="party-C", transaction_id="x3")

    def ids(rid, **kw):
        reply = service.call("/EiTransaction", msg.request_transaction(rid, "party-B", **kw))
        return sorted(e.text for e in reply.payload.iter(q(EI, "transactionID")))

    assert ids("q1") == ["x1", "x2", "x3"]
    assert ids("q2", counterparties=["party-C"]) == ["x3"]
    assert ids("q3", transaction_ids=["x2"]) == ["x2"]
    assert ids("q4", intervals=["2030-01-02T00:00:00Z/P1D"]) == ["x2"]
    assert ids("q5", market_contexts=["http://other.example/ctx"]) == []


def test_seed_example_sell_two_mw_buy_back_half(service, engine):
    """Sell 2 MW for an hour, later buy back 0.5 MW of it: position 1.5 MW sold for that hour."""
    offer(service, ("t1", msg.product(side="buy", quantity="2", scale="M", price="80", energy_scale="M")), party="party-B", to="party-A")
    accept(service, "a1", "t1", msg.product(side="sell", quantity="2", scale="M", price="80", energy_scale="M", state="transaction"), party="party-A", maker="party-B")
    offer(service, ("t2", msg.product(side="sell", quantity="0.5", scale="M", price="90", energy_scale="M")), party="party-B", to="party-A", rid="r2")
    accept(service, "a2", "t2", msg.product(side="buy", quantity="0.5", scale="M", price="90", energy_scale="M", state="transaction"), party="party-A", maker="party-B")
    reply = service.call("/EiTransaction", msg.request_position("p1", "party-A", "2030-01-01T10:00:00Z", "PT1H", "PT1H"))
    assert steps(reply) == [("2030-01-01T10:00:00Z", Decimal(1500), Decimal(1500), Decimal(160 - 45))]
    other = service.call("/EiTransaction", msg.request_position("p2", "party-B", "2030-01-01T10:00:00Z", "PT1H", "PT1H"))
    assert steps(other)[0][1] == -1500
    with engine.connect() as conn:
        assert positions.verify(conn) == []


def test_day_transaction_counts_in_each_hour_and_five_minutes(service):
    offer(service, ("day", msg.product(quantity="1", start="2030-01-01T00:00:00Z", duration="P1D")))
    offer(service, ("hour", msg.product(quantity="2", start="2030-01-01T10:00:00Z", duration="PT1H")), rid="r2")
    accept(service, "a1", "day", msg.product(side="buy", quantity="1", start="2030-01-01T00:00:00Z", duration="P1D", state="transaction"))
    accept(service, "a2", "hour", msg.product(side="buy", quantity="2", start="2030-01-01T10:00:00Z", duration="PT1H", state="transaction"))
    hourly = steps(service.call("/EiTransaction", msg.request_position("p1", "party-A", "2030-01-01T09:00:00Z", "PT3H", "PT1H")))
    assert [s[1] for s in hourly] == [1, 3, 1]
    five = steps(service.call("/EiTransaction", msg.request_position("p2", "party-A", "2030-01-01T10:00:00Z", "PT1H", "PT5M")))
    assert len(five) == 12 and {s[1] for s in five} == {3}
    raw = steps(service.call("/EiTransaction", msg.request_position("p3", "party-A", "2030-01-01T00:00:00Z", "P1D")))
    assert [s[1] for s in raw] == [1, 3, 1]
    assert sum(s[2] for s in raw) == 24 + 2


def test_half_hour_inside_an_hour_step_averages_the_rate(service):
    offer(service, ("t1", msg.product(quantity="4", start="2030-01-01T10:00:00Z", duration="PT30M")))
    accept(service, "a1", "t1", msg.product(side="buy", quantity="4", start="2030-01-01T10:00:00Z", duration="PT30M", state="transaction"))
    (step,) = steps(service.call("/EiTransaction", msg.request_position("p1", "party-A", "2030-01-01T10:00:00Z", "PT1H", "PT1H")))
    assert step[1:3] == (2, 2)


def test_positions_are_kept_per_interface_and_product(service):
    offer(service, ("energy", msg.product(node="A")), ("transport", msg.product(node="B", receipt="A")))
    accept(service, "a1", "energy", msg.product(side="buy", node="A", state="transaction"))
    accept(service, "a2", "transport", msg.product(side="buy", node="B", receipt="A", state="transaction"))
    reply = service.call("/EiTransaction", msg.request_position("p1", "party-B", "2030-01-01T10:00:00Z", "PT1H", "PT1H"))
    kinds = sorted(p.findtext(q(TEMIX, "productKind")) for p in reply.payload.iter(q(TEMIX, "position")))
    assert kinds == ["energy", "transport"]
    only_transport = service.call("/EiTransaction", msg.request_position("p2", "party-B", "2030-01-01T10:00:00Z", "PT1H", "PT1H", node="B", receipt="A"))
    assert [p.findtext(q(TEMIX, "productKind")) for p in only_transport.payload.iter(q(TEMIX, "position"))] == ["transport"]


def test_a_party_sees_only_its_own_positions(service):
    offer(service, ("t1", msg.product()))
    accept(service, "a1", "t1", msg.product(side="buy", state="transaction"))
    reply = service.call("/EiTransaction", msg.request_position("p1", "party-C", "2030-01-01T10:00:00Z", "PT1H", "PT1H"))
    assert reply.payload.find(q(TEMIX, "position")) is None


def test_a_year_long_transaction_writes_two_change_points_per_party(service, engine):
    offer(service, ("year", msg.product(quantity="1", start="2030-01-01T00:00:00Z", duration="P1Y")))
    accept(service, "a1", "year", msg.product(side="buy", quantity="1", start="2030-01-01T00:00:00Z", duration="P1Y", state="transaction"))
    assert count(engine, position_change) == 4
    year = steps(service.call("/EiTransaction", msg.request_position("p1", "party-A", "2030-01-01T00:00:00Z", "P1Y", "PT24H")))
    assert len(year) == 365
    assert sum(s[2] for s in year) == 8760
    assert sum(s[3] for s in year) == Decimal("0.08") * 8760


NEW_YORK = "http://market.example.com/temix/new-york"


def test_day_on_the_spring_forward_date_delivers_23_hours(service, clock):
    """Calendar durations resolve in the market context's time zone (America/New_York)."""
    clock.now = clock.now.replace(year=2026, month=3, day=1)
    day = dict(quantity="1", start="2026-03-08T05:00:00Z", duration="P1D", market_context=NEW_YORK, energy_scale="k")
    offer(service, ("dst", msg.product(**day)))
    assert accept(service, "a1", "dst", msg.product(side="buy", state="transaction", **day)).code == "200"
    raw = steps(service.call("/EiTransaction", msg.request_position("p1", "party-A", "2026-03-08T00:00:00Z", "PT48H")))
    assert [s[1] for s in raw] == [0, 1, 0]
    assert sum(s[2] for s in raw) == 23


def test_price_without_an_energy_unit_is_per_the_market_contexts_unit(service, engine):
    offer(service, ("t1", msg.product(price="80", market_context=NEW_YORK)))
    with engine.connect() as conn:
        assert conn.execute(select(tender.c.price_per_kwh)).scalar_one() == Decimal("0.08")


def test_currency_must_be_the_market_contexts(service):
    reply = service.call("/EiTender", msg.create_tender("r1", "party-A", "party-B", ("t1", msg.product(currency="EUR", market_context=NEW_YORK))))
    assert reply.code == "400" and "USD" in reply.description


def test_unknown_market_context_is_refused(service, engine):
    reply = service.call("/EiTender", msg.create_tender("r1", "party-A", "party-B", ("t1", msg.product(market_context="http://nowhere.example/x"))))
    assert reply.code == "462" and "not registered" in reply.description
    assert count(engine, tender) == 0


def buy_energy_at_a_and_transport_to_b(service):
    """party-B buys 2 kW at A (0.05) and 2 kW of transport A->B (0.01), 10:00-11:00."""
    offer(service, ("energy", msg.product(node="A", quantity="2", price="0.05")), ("transport", msg.product(node="B", receipt="A", quantity="2", price="0.01")))
    accept(service, "a1", "energy", msg.product(side="buy", node="A", quantity="2", price="0.05", state="transaction"))
    accept(service, "a2", "transport", msg.product(side="buy", node="B", receipt="A", quantity="2", price="0.01", state="transaction"))


def test_energy_bought_at_a_plus_transport_to_b_is_delivered_at_b(service):
    buy_energy_at_a_and_transport_to_b(service)
    reply = service.call("/EiTransaction", msg.request_position("p1", "party-B", "2030-01-01T10:00:00Z", "PT1H", "PT1H", combine=True))
    found = {
        (p.findtext(q(TEMIX, "productKind")), p.findtext(".//{http://docs.oasis-open.org/ns/emix/2011/06/power/cts.04}node")): p
        for p in reply.payload.iter(q(TEMIX, "position"))
    }
    delivered_a, delivered_b = found[("delivered", "A")], found[("delivered", "B")]
    assert Decimal(delivered_a.findtext(f".//{q(TEMIX, 'rate')}")) == 0
    assert Decimal(delivered_b.findtext(f".//{q(TEMIX, 'rate')}")) == -2
    assert Decimal(delivered_a.findtext(f".//{q(TEMIX, 'value')}")) == Decimal("-0.10")  # the energy, paid at A
    assert Decimal(delivered_b.findtext(f".//{q(TEMIX, 'value')}")) == Decimal("-0.02")  # the transport, paid at B
    plain = service.call("/EiTransaction", msg.request_position("p2", "party-B", "2030-01-01T10:00:00Z", "PT1H", "PT1H"))
    assert "delivered" not in {p.findtext(q(TEMIX, "productKind")) for p in plain.payload.iter(q(TEMIX, "position"))}


def test_delivered_positions_follow_change_points_inside_the_window(service):
    # the window starts before the deals, so their starts and ends are change points inside it
    buy_energy_at_a_and_transport_to_b(service)
    reply = service.call("/EiTransaction", msg.request_position("p1", "party-B", "2030-01-01T09:00:00Z", "PT3H", "PT1H", combine=True))
    rates = {
        (p.findtext(q(TEMIX, "productKind")), p.findtext(".//{http://docs.oasis-open.org/ns/emix/2011/06/power/cts.04}node")):
        [Decimal(r.text) for r in p.iter(q(TEMIX, "rate"))]
        for p in reply.payload.iter(q(TEMIX, "position"))
    }
    assert rates[("energy", "A")] == [0, -2, 0]
    assert rates[("delivered", "A")] == [0, 0, 0]
    assert rates[("delivered", "B")] == [0, -2, 0]


def test_trading_closes_when_delivery_starts(service, clock):
    offer(service, ("t1", msg.product()))  # delivery 2030-01-01 10:00Z, no expirationDate
    clock.now = clock.now.replace(year=2030, month=1, day=1, hour=10)
    assert service.call("/EiTender", msg.request_tender("q1", "party-B")).payload.find(q(EI, "eiTender")) is None
    reply = accept(service, "a1", "t1", msg.product(side="buy", state="transaction"))
    assert reply.code == "410" and "delivery started" in reply.description
