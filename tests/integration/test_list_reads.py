"""EiRequestTender and EiRequestTransaction at their edges: interval boundaries, the order
across the branches a list is read from (own, addressed, distributed tenders; transactions as
acceptor and as maker), the first-1000 truncation, and tenders that are no longer standing.
In-process on PostgreSQL; every reply is checked against the schemas by the client."""

import pytest
from sqlalchemy import text

from service.soap.ns import EI, EMIX, q
from tests.support import messages as msg

# The clock of the service fixture is 2029-12-31T12:00Z; tenders start from 2030-01-01.
DAY = "2030-01-01T"


def at(hour: int, minute: int = 0) -> str:
    return f"{DAY}{hour:02d}:{minute:02d}:00Z"


def offer(service, party, to, *tenders, rid):
    reply = service.call("/EiTender", msg.create_tender(rid, party, to, *tenders))
    assert reply.code == "200", reply.description


def tender_ids(service, party, rid="q", **narrowing) -> list[str]:
    reply = service.call("/EiTender", msg.request_tender(rid, party, **narrowing))
    assert reply.code == "200", reply.description
    return [item.findtext(q(EI, "tenderID")) for item in reply.payload.iter(q(EI, "eiTender"))]


def transaction_ids(service, party, rid="q", **narrowing) -> list[str]:
    reply = service.call("/EiTransaction", msg.request_transaction(rid, party, **narrowing))
    assert reply.code == "200", reply.description
    return [item.findtext(q(EI, "transactionID")) for item in reply.payload.iter(q(EI, "eiTransaction"))]


# --- interval boundaries ------------------------------------------------------------------------

# one tender of party-A to party-B, delivered [10:00, 11:00)
WINDOWS = [
    (f"{at(9)}/{at(10)}", False),  # ends where it starts
    (f"{at(11)}/{at(12)}", False),  # starts where it ends
    (f"{at(9)}/{DAY}10:00:01Z", True),  # one second of it
    (f"{DAY}10:59:59Z/{at(12)}", True),  # its last second
    (f"{at(10, 15)}/PT30M", True),  # inside it
    (f"{at(8)}/{at(13)}", True),  # around it
    (f"{at(10)}/{at(11)}", True),  # exactly it
    (f"{DAY}12:00:00+02:00/PT1H", True),  # 10:00Z, in another offset
]


@pytest.mark.parametrize(("window", "listed"), WINDOWS)
def test_an_interval_filter_lists_what_overlaps_the_window_not_what_only_touches_it(service, window, listed):
    offer(service, "party-A", "party-B", ("t1", msg.product(start=at(10))), rid="r1")
    expected = ["t1"] if listed else []
    assert tender_ids(service, "party-B", intervals=[window]) == expected  # addressed to B
    assert tender_ids(service, "party-A", intervals=[window]) == expected  # A's own
    accepted = service.call("/EiTransaction", msg.create_transaction(
        "a1", "party-B", "party-A", ("x1", "t1", msg.product(start=at(10), quantity="4", state="transaction", side="buy"))))
    assert accepted.code == "200", accepted.description
    expected = ["x1"] if listed else []
    assert transaction_ids(service, "party-B", intervals=[window]) == expected  # as acceptor
    assert transaction_ids(service, "party-A", intervals=[window]) == expected  # as maker


def test_several_windows_list_what_overlaps_any_of_them_once(service):
    offer(service, "party-A", "party-B", *[(f"t{h}", msg.product(start=at(h))) for h in (10, 12, 14)], rid="r1")
    windows = [f"{at(9)}/{at(11)}", f"{at(10, 30)}/{at(12, 30)}", f"{at(20)}/PT1H"]
    assert tender_ids(service, "party-B", intervals=windows) == ["t10", "t12"]


# --- order across branches, and limits -------------------------------------------------------------


def test_tenders_come_in_delivery_order_across_own_addressed_and_distributed_ones(service):
    offer(service, "party-C", "party-B", ("addressed-11", msg.product(start=at(11))), rid="r1")
    offer(service, "party-B", "party-A", ("own-10", msg.product(start=at(10))),
          ("own-12", msg.product(start=at(12))), rid="r2")
    distributed = service.call("/EiTender", msg.distribute_tender(
        "r3", "party-C", ("distributed-09", msg.product(start=at(9))), ("distributed-11", msg.product(start=at(11)))))
    assert distributed.code == "200", distributed.description
    offer(service, "party-A", "party-B", ("addressed-10", msg.product(start=at(10))), rid="r4")
    # the same start: first made, first listed
    expected = ["distributed-09", "own-10", "addressed-10", "addressed-11", "distributed-11", "own-12"]
    assert tender_ids(service, "party-B") == expected
    assert tender_ids(service, "party-B", intervals=[f"{at(10)}/{at(11, 30)}"]) == expected[1:5]
    assert tender_ids(service, "party-B", counterparties=["party-C"]) == ["distributed-09", "addressed-11", "distributed-11"]
    assert tender_ids(service, "party-B", counterparties=["party-A"]) == ["own-10", "addressed-10", "own-12"]
    assert tender_ids(service, "party-B", tender_ids=["own-12", "distributed-09"]) == ["distributed-09", "own-12"]


def test_transactions_come_in_delivery_order_as_acceptor_and_as_maker(service):
    offer(service, "party-A", "party-B", *[(f"a{h}", msg.product(start=at(h))) for h in (9, 11)], rid="r1")
    offer(service, "party-B", "party-C", *[(f"b{h}", msg.product(start=at(h))) for h in (10, 12)], rid="r2")
    for h in (9, 11):  # B accepts A's
        product = msg.product(start=at(h), quantity="4", state="transaction", side="buy")
        service.call("/EiTransaction", msg.create_transaction(f"x{h}", "party-B", "party-A", (f"x{h}", f"a{h}", product)))
    for h in (10, 12):  # C accepts B's
        product = msg.product(start=at(h), quantity="4", state="transaction", side="buy")
        service.call("/EiTransaction", msg.create_transaction(f"x{h}", "party-C", "party-B", (f"x{h}", f"b{h}", product)))
    assert transaction_ids(service, "party-B") == ["x9", "x10", "x11", "x12"]
    assert transaction_ids(service, "party-B", counterparties=["party-C"]) == ["x10", "x12"]
    assert transaction_ids(service, "party-B", counterparties=["party-A"]) == ["x9", "x11"]
    assert transaction_ids(service, "party-B", intervals=[f"{at(10, 30)}/PT1H"]) == ["x10", "x11"]
    assert transaction_ids(service, "party-A") == ["x9", "x11"]
    assert transaction_ids(service, "party-C") == ["x10", "x12"]


def test_the_requestor_sees_its_own_side_of_each_transaction(service):
    offer(service, "party-A", "party-B", ("t1", msg.product(start=at(10), side="sell")), rid="r1")
    product = msg.product(start=at(10), quantity="4", state="transaction", side="buy")
    service.call("/EiTransaction", msg.create_transaction("a1", "party-B", "party-A", ("x1", "t1", product)))
    for party, side in (("party-B", "buy"), ("party-A", "sell")):
        reply = service.call("/EiTransaction", msg.request_transaction("q", party))
        assert reply.payload.findtext(f".//{q(EMIX, 'side')}") == side


def _copies(engine, tender_id: str, count: int) -> None:
    """``count`` more standing tenders like ``tender_id``, one minute apart after it."""
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO tender (party_id, tender_id, counterparty_id, request_id, side, transactive_state,"
            " product_kind, receipt_node, delivery_node, market_context, currency, start_at, end_at,"
            " price_per_kwh, quantity_kw, remaining_kw, rate_scale, integral_only, product_xml)"
            " SELECT party_id, tender_id || '-' || n, counterparty_id, request_id, side, transactive_state,"
            " product_kind, receipt_node, delivery_node, market_context, currency,"
            " start_at + n * interval '1 minute', end_at + n * interval '1 minute', price_per_kwh,"
            " quantity_kw, remaining_kw, rate_scale, integral_only, product_xml"
            " FROM tender, generate_series(1, :count) n WHERE tender_id = :tender_id"
        ), {"tender_id": tender_id, "count": count})


def test_a_list_stops_at_the_first_1000_and_says_more_exist(service, engine):
    offer(service, "party-A", "party-B", ("t", msg.product(start=at(10))), rid="r1")
    _copies(engine, "t", 999)
    reply = service.call("/EiTender", msg.request_tender("q1", "party-B"))
    assert (reply.code, reply.description) == ("200", "OK")
    assert len(list(reply.payload.iter(q(EI, "eiTender")))) == 1000

    offer(service, "party-C", "party-B", ("first", msg.product(start=at(9))), rid="r2")
    reply = service.call("/EiTender", msg.request_tender("q2", "party-B"))
    assert reply.description == "OK: the first 1000 matches (more exist; narrow the request)"
    listed = [item.findtext(q(EI, "tenderID")) for item in reply.payload.iter(q(EI, "eiTender"))]
    assert listed == ["first", "t", *(f"t-{n}" for n in range(1, 999))]  # t-999 is the 1001st


# --- tenders no longer standing -------------------------------------------------------------------


def _one_of_each_way(service):
    """B sees t-own (B's), t-addressed (A's to B) and t-distributed (C's), all at 10:00."""
    offer(service, "party-B", "party-A", ("t-own", msg.product(start=at(10), expires=f"{DAY}00:00:00Z")), rid="r1")
    offer(service, "party-A", "party-B", ("t-addressed", msg.product(start=at(10), expires=f"{DAY}00:00:00Z")), rid="r2")
    distributed = service.call("/EiTender", msg.distribute_tender(
        "r3", "party-C", ("t-distributed", msg.product(start=at(10), expires=f"{DAY}00:00:00Z"))))
    assert distributed.code == "200", distributed.description
    return ["t-own", "t-addressed", "t-distributed"]


WHOLE_DAY = [f"{at(0)}/P1D"]


def test_cancelled_tenders_are_never_listed(service):
    _one_of_each_way(service)
    for rid, party, tender_id in (("c1", "party-B", "t-own"), ("c2", "party-A", "t-addressed"), ("c3", "party-C", "t-distributed")):
        assert service.call("/EiTender", msg.cancel_tender(rid, party, tender_id)).code == "200"
    assert tender_ids(service, "party-B") == []
    assert tender_ids(service, "party-B", intervals=WHOLE_DAY) == []


def test_filled_tenders_are_never_listed(service):
    _one_of_each_way(service)
    product = msg.product(start=at(10), state="transaction", side="buy")
    for rid, party, maker, tender_id in (
        ("a1", "party-A", "party-B", "t-own"), ("a2", "party-B", "party-A", "t-addressed"), ("a3", "party-B", "party-C", "t-distributed")
    ):
        reply = service.call("/EiTransaction", msg.create_transaction(rid, party, maker, (f"x-{rid}", tender_id, product)))
        assert reply.code == "200", reply.description
    assert tender_ids(service, "party-B") == []
    assert tender_ids(service, "party-B", intervals=WHOLE_DAY) == []


def test_partly_taken_tenders_are_listed_with_what_remains(service):
    _one_of_each_way(service)
    product = msg.product(start=at(10), state="transaction", side="buy", quantity="4")
    reply = service.call("/EiTransaction", msg.create_transaction("a1", "party-B", "party-A", ("x1", "t-addressed", product)))
    assert reply.code == "200", reply.description
    shown = service.call("/EiTender", msg.request_tender("q", "party-B", tender_ids=["t-addressed"])).payload
    assert shown.findtext(f".//{q(EMIX, 'quantity')}") == "6"


def test_expired_tenders_are_never_listed(service, clock):
    listed = _one_of_each_way(service)
    assert tender_ids(service, "party-B") == listed
    clock.advance(hours=12)  # the tenders expire at 2030-01-01T00:00Z
    assert tender_ids(service, "party-B") == []
    assert tender_ids(service, "party-B", intervals=WHOLE_DAY) == []


def test_tenders_whose_delivery_has_started_are_never_listed(service, clock):
    offer(service, "party-A", "party-B", ("t-addressed", msg.product(start=at(10))), rid="r1")
    offer(service, "party-B", "party-A", ("t-own", msg.product(start=at(11))), rid="r2")
    clock.advance(hours=22)  # 2030-01-01T10:00Z: the first has started
    assert tender_ids(service, "party-B") == ["t-own"]
    assert tender_ids(service, "party-B", intervals=WHOLE_DAY) == ["t-own"]


def test_a_distributed_tender_is_listed_for_its_recipients_only(service):
    scope = msg.distribution_scope(["north"])  # of A, B and C, only C is in group "north"
    distribute = msg.distribute_tender("r1", "party-A", ("d1", msg.product(start=at(10))))
    reply = service.call("/EiTender", distribute, headers=[scope])
    assert reply.code == "200", reply.description
    for party, listed in (("party-C", ["d1"]), ("party-A", ["d1"]), ("party-B", [])):
        assert tender_ids(service, party) == listed
        assert tender_ids(service, party, intervals=WHOLE_DAY) == listed


def test_the_lists_stay_right_once_postgresql_plans_them_for_any_party(service):
    """Each list is a prepared statement: after five runs PostgreSQL may plan it once for
    every party (a generic plan)."""
    offer(service, "party-A", "party-B", *[(f"t{h}", msg.product(start=at(h))) for h in (10, 11, 12)], rid="r1")
    offer(service, "party-C", "party-A", ("c10", msg.product(start=at(10))), rid="r2")
    product = msg.product(start=at(10), quantity="4", state="transaction", side="buy")
    service.call("/EiTransaction", msg.create_transaction("a1", "party-B", "party-A", ("x1", "t10", product)))
    for k in range(8):
        assert tender_ids(service, "party-B", rid=f"q{k}") == ["t10", "t11", "t12"]
        assert tender_ids(service, "party-C", rid=f"q{k}") == ["c10"]
        assert tender_ids(service, "party-A", rid=f"q{k}", intervals=[f"{at(10)}/PT1H"]) == ["t10", "c10"]
        assert transaction_ids(service, "party-A", rid=f"q{k}") == ["x1"]
        assert transaction_ids(service, "party-C", rid=f"q{k}") == []
