"""EiDistributeTender through the whole stack, in-process, on the real PostgreSQL.

One tender to every party enrolled in its market context, optionally narrowed by the
temix:distributionScope SOAP header (groups, service areas); the recipients are fixed when it
is sent and share its quantity, first come first served. Every reply is checked against the
schemas by the client.
"""

from concurrent.futures import ThreadPoolExecutor
from dataclasses import astuple
from decimal import Decimal
from functools import cache

import pytest
from lxml import etree
from sqlalchemy import func, select

from service.auth.passwords import hash_password
from service.soap.ns import EI, SOAP11_ENV, TEMIX, q
from service.store import positions
from service.store.parties import Memberships, add_party, enroll, unenroll
from service.store.tables import distribution, distribution_recipient, request_log, tender, transaction
from tests.support import messages as msg

CTX = msg.CTX
OTHER_CTX = "http://other.example/ctx"

# Beside the service fixture's A, B, C (all in CTX, C in group "north"):
MORE_PARTIES = {
    "party-D": Memberships.of([CTX], service_areas=["ZONE-1"]),
    "party-E": Memberships.of([CTX], ["north"], ["ZONE-2"]),
    "party-F": Memberships.of([CTX], service_areas=["ZONE-2"]),
    "party-X": Memberships.of([OTHER_CTX]),  # not in CTX
}
IN_CTX = ["party-B", "party-C", "party-D", "party-E", "party-F"]  # besides the sender, A


@pytest.fixture
def market(service, engine):
    """The service with the parties above registered too."""
    passwords = {party_id: f"secret-{party_id}" for party_id in MORE_PARTIES}
    with engine.begin() as conn:
        for party_id, memberships in MORE_PARTIES.items():
            add_party(conn, party_id, _hashed(passwords[party_id]), None, *astuple(memberships))
    service.passwords = {**service.passwords, **passwords}  # a copy: the fixture's dict is shared
    return service


@cache
def _hashed(password: str) -> str:
    return hash_password(password)  # scrypt: once per run, not per test


def distribute(service, request_id, *tenders, party="party-A", groups=(), areas=()):
    headers = [msg.distribution_scope(groups, areas)] if groups or areas else []
    return service.call("/EiTender", msg.distribute_tender(request_id, party, *tenders), headers=headers)


def recipient_count(reply) -> int:
    return int(reply.payload.findtext(q(TEMIX, "recipientCount")))


def visible(service, party, request_id="q") -> list[str]:
    reply = service.call("/EiTender", msg.request_tender(f"{request_id}-{party}", party))
    return [t.findtext(q(EI, "tenderID")) for t in reply.payload.iter(q(EI, "eiTender"))]


def accept(service, party, tender_id, quantity, transaction_id=None, maker="party-A"):
    transaction_id = transaction_id or f"{party}-{tender_id}-{quantity}"
    payload = msg.create_transaction(
        f"take-{transaction_id}", party, maker,
        (transaction_id, tender_id, msg.product(side="buy", quantity=quantity, state="transaction")),
    )  # fmt: skip
    return service.call("/EiTransaction", payload)


def remaining_kw(engine, tender_id) -> Decimal:
    with engine.connect() as conn:
        return conn.execute(select(tender.c.remaining_kw).where(tender.c.tender_id == tender_id)).scalar_one()


def taken_kw(engine, tender_id) -> Decimal:
    with engine.connect() as conn:
        return conn.execute(
            select(func.coalesce(func.sum(transaction.c.quantity_kw), 0))
            .join(tender, transaction.c.tender_pk == tender.c.id)
            .where(tender.c.tender_id == tender_id)
        ).scalar_one()


def count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


# --- who is reached ------------------------------------------------------------------------


def test_every_enrolled_party_sees_the_distributed_tender_and_can_accept_it(market, engine):
    reply = distribute(market, "d1", ("offer-1", msg.product(quantity="10")))

    assert reply.code == "200"
    assert recipient_count(reply) == len(IN_CTX)
    assert [e.text for e in reply.payload.findall(q(EI, "tenderID"))] == ["offer-1"]
    for party in IN_CTX:
        assert visible(market, party) == ["offer-1"], party
    for party in IN_CTX:
        assert accept(market, party, "offer-1", "2").code == "200", party
    assert remaining_kw(engine, "offer-1") == 0
    with engine.connect() as conn:
        assert positions.verify(conn) == []


def test_a_party_outside_the_market_context_never_sees_it_and_cannot_accept_it(market):
    distribute(market, "d1", ("offer-1", msg.product()))

    assert visible(market, "party-X") == []
    refused = accept(market, "party-X", "offer-1", "1")
    assert refused.code == "403"
    assert "not addressed to you" in refused.description


def test_the_sender_is_not_one_of_its_recipients_and_cannot_accept_its_own_tender(market):
    reply = distribute(market, "d1", ("offer-1", msg.product()))

    assert recipient_count(reply) == len(IN_CTX)
    assert visible(market, "party-A") == ["offer-1"]  # its own, as standing
    assert accept(market, "party-A", "offer-1", "1", maker="party-A").code == "403"


# --- sharing the quantity ------------------------------------------------------------------


def test_recipients_share_the_quantity_first_come_first_served(market, engine):
    distribute(market, "d1", ("offer-1", msg.product(quantity="10")))

    assert accept(market, "party-B", "offer-1", "6").code == "200"
    too_much = accept(market, "party-C", "offer-1", "6")
    assert too_much.code == "460"
    assert "only 4" in too_much.description
    assert accept(market, "party-C", "offer-1", "4").code == "200"
    assert accept(market, "party-D", "offer-1", "1").code == "410"  # fully accepted

    assert taken_kw(engine, "offer-1") == 10
    assert remaining_kw(engine, "offer-1") == 0
    assert all(visible(market, party, "after") == [] for party in IN_CTX)


def test_concurrent_acceptances_by_several_recipients_never_exceed_the_tender(market, engine):
    distribute(market, "d1", ("offer-1", msg.product(quantity="10")))
    attempts = [(party, i) for party in IN_CTX for i in range(4)]

    def take(attempt):
        party, i = attempt
        return party, accept(market, party, "offer-1", "1.5", transaction_id=f"{party}-x{i}").code

    with ThreadPoolExecutor(max_workers=len(attempts)) as pool:
        results = list(pool.map(take, attempts))

    codes = [code for _, code in results]
    assert set(codes) <= {"200", "460"}
    assert codes.count("200") == 6  # 6 x 1.5 kW fit in 10 kW, no more
    assert taken_kw(engine, "offer-1") == Decimal("9")
    assert remaining_kw(engine, "offer-1") == Decimal("1")
    with engine.connect() as conn:
        assert positions.verify(conn) == []


# --- the distributionScope header ----------------------------------------------------------


@pytest.mark.parametrize(
    ("groups", "areas", "reached"),
    [
        (["north"], [], ["party-C", "party-E"]),
        ([], ["ZONE-2"], ["party-E", "party-F"]),
        ([], ["ZONE-1", "ZONE-2"], ["party-D", "party-E", "party-F"]),
        (["north"], ["ZONE-2"], ["party-E"]),  # both given: both must hold
        (["north", "nobody"], [], ["party-C", "party-E"]),
    ],
)
def test_the_scope_header_narrows_the_recipients(market, groups, areas, reached):
    reply = distribute(market, "d1", ("offer-1", msg.product()), groups=groups, areas=areas)

    assert reply.code == "200"
    assert recipient_count(reply) == len(reached)
    for party in IN_CTX:
        assert visible(market, party) == (["offer-1"] if party in reached else []), party
    outside = next(party for party in IN_CTX if party not in reached)
    assert accept(market, outside, "offer-1", "1").code == "403"
    assert accept(market, reached[0], "offer-1", "1").code == "200"


def test_a_scope_that_matches_nobody_is_refused_and_writes_nothing(market, engine):
    reply = distribute(market, "d1", ("offer-1", msg.product()), groups=["north"], areas=["ZONE-1"])

    assert reply.code == "404"
    assert "within groups north and service areas ZONE-1" in reply.description
    assert count(engine, tender) == count(engine, distribution) == count(engine, distribution_recipient) == 0


def test_an_invalid_scope_header_is_a_soap_fault_naming_the_element_and_line(market, engine):
    scope = msg.distribution_scope(["north"])
    etree.SubElement(scope, q(TEMIX, "region")).text = "west"

    reply = market.call("/EiTender", msg.distribute_tender("d1", "party-A", ("offer-1", msg.product())), headers=[scope])

    assert reply.is_fault and reply.status == 500
    assert reply.faultcode.endswith("Client.SchemaValidation")
    assert "temix:distributionScope header" in reply.faultstring
    assert "region" in reply.faultstring and "line" in reply.faultstring
    assert count(engine, tender) == count(engine, request_log) == 0


def test_two_scope_headers_are_a_soap_fault(market, engine):
    headers = [msg.distribution_scope(["north"]), msg.distribution_scope(areas=["ZONE-1"])]

    reply = market.call("/EiTender", msg.distribute_tender("d1", "party-A", ("offer-1", msg.product())), headers=headers)

    assert reply.is_fault and reply.faultcode.endswith("Client.SoapEnvelope")
    assert "At most one temix:distributionScope" in reply.faultstring
    assert count(engine, tender) == 0


def test_an_empty_group_name_is_refused_with_400(market, engine):
    reply = distribute(market, "d1", ("offer-1", msg.product()), groups=[" "])

    assert reply.code == "400"
    assert "empty temix:group" in reply.description
    assert count(engine, tender) == 0


def test_the_scope_header_may_carry_soap_must_understand(market):
    scope = msg.distribution_scope(["north"])
    scope.set(q(SOAP11_ENV, "mustUnderstand"), "1")

    reply = market.call("/EiTender", msg.distribute_tender("d1", "party-A", ("offer-1", msg.product())), headers=[scope])

    assert reply.code == "200" and recipient_count(reply) == 2


def test_an_empty_scope_header_narrows_nothing(market):
    reply = distribute(market, "d1", ("offer-1", msg.product()))
    scoped = market.call(
        "/EiTender", msg.distribute_tender("d2", "party-A", ("offer-2", msg.product())), headers=[msg.distribution_scope()]
    )

    assert recipient_count(scoped) == recipient_count(reply) == len(IN_CTX)


def test_the_scope_header_is_ignored_by_other_operations(market):
    reply = market.call(
        "/EiTender", msg.create_tender("c1", "party-A", "party-B", ("t1", msg.product())),
        headers=[msg.distribution_scope(["north"])],
    )  # fmt: skip

    assert reply.code == "200"
    assert visible(market, "party-B") == ["t1"]


# --- enrolment over time -------------------------------------------------------------------


def test_a_party_enrolled_after_the_distribution_does_not_see_it_but_sees_later_ones(market, engine):
    distribute(market, "d1", ("offer-1", msg.product()))
    with engine.begin() as conn:
        enroll(conn, "party-X", Memberships.of([CTX]))

    assert visible(market, "party-X") == []
    assert accept(market, "party-X", "offer-1", "1").code == "403"
    later = distribute(market, "d2", ("offer-2", msg.product()))
    assert recipient_count(later) == len(IN_CTX) + 1
    assert visible(market, "party-X", "q2") == ["offer-2"]


def test_an_unenrolled_party_is_not_reached_by_later_distributions(market, engine):
    distribute(market, "d1", ("offer-1", msg.product()))
    with engine.begin() as conn:
        unenroll(conn, "party-B", Memberships.of([CTX]))
        unenroll(conn, "party-E", Memberships.of(groups=["north"]))

    later = distribute(market, "d2", ("offer-2", msg.product()))
    north = distribute(market, "d3", ("offer-3", msg.product()), groups=["north"])

    assert recipient_count(later) == len(IN_CTX) - 1
    assert recipient_count(north) == 1  # party-C only
    # what was sent to it before stays its to see and accept
    assert visible(market, "party-B") == ["offer-1"]
    assert accept(market, "party-B", "offer-1", "1").code == "200"
    assert accept(market, "party-B", "offer-2", "1").code == "403"
    assert visible(market, "party-E") == ["offer-1", "offer-2"]


def test_a_market_context_with_no_other_member_is_refused_and_nothing_is_written(market, engine):
    reply = distribute(market, "d1", ("lonely-1", msg.product(market_context=OTHER_CTX)), party="party-X")

    assert reply.code == "404"
    assert "No party to reach in market context" in reply.description
    assert count(engine, tender) == count(engine, distribution) == count(engine, distribution_recipient) == 0


def test_each_tender_reaches_the_members_of_its_own_market_context(market):
    reply = distribute(
        market, "d1", ("offer-1", msg.product()), ("offer-2", msg.product(market_context=OTHER_CTX)), party="party-B"
    )

    assert reply.code == "200"
    assert recipient_count(reply) == 6  # A, C, D, E, F in CTX; X in OTHER_CTX
    assert visible(market, "party-C") == ["offer-1"]
    assert visible(market, "party-X") == ["offer-2"]


def test_one_market_context_without_recipients_refuses_the_whole_request(market, engine):
    reply = distribute(
        market, "d1", ("offer-1", msg.product()), ("offer-2", msg.product(market_context=OTHER_CTX)), party="party-X"
    )

    assert reply.code == "404"
    assert OTHER_CTX in reply.description
    assert count(engine, tender) == count(engine, distribution) == count(engine, distribution_recipient) == 0


def test_an_unknown_market_context_is_refused_with_462(market, engine):
    reply = distribute(market, "d1", ("offer-1", msg.product(market_context="http://nowhere.example/ctx")))

    assert reply.code == "462"
    assert count(engine, tender) == 0


# --- idempotency ---------------------------------------------------------------------------


def test_a_retry_with_the_same_request_id_gets_the_same_reply_and_changes_nothing(market, engine):
    payload = msg.distribute_tender("d1", "party-A", ("offer-1", msg.product()))
    first = market.call("/EiTender", payload)
    with engine.begin() as conn:
        enroll(conn, "party-X", Memberships.of([CTX]))

    again = market.call("/EiTender", payload)

    assert again.body == first.body
    assert recipient_count(again) == len(IN_CTX)
    assert count(engine, tender) == 1
    assert count(engine, distribution_recipient) == len(IN_CTX)
    assert visible(market, "party-X") == []


def test_the_same_request_id_for_another_distribution_is_refused_with_463(market, engine):
    distribute(market, "d1", ("offer-1", msg.product()))

    other = distribute(market, "d1", ("offer-2", msg.product(quantity="5")))

    assert other.code == "463"
    assert count(engine, tender) == 1


def test_same_request_id_and_payload_with_another_scope_is_another_request(service):
    payload = msg.distribute_tender("d-scope", "party-A", ("t-scope", msg.product()))
    first = service.call("/EiTender", payload, headers=[msg.distribution_scope(groups=["north"])])
    assert first.code == "200"
    other = service.call("/EiTender", payload, headers=[msg.distribution_scope(groups=["south"])])
    assert other.code == "463"
    same = service.call("/EiTender", payload, headers=[msg.distribution_scope(groups=["north"])])
    assert same.body == first.body
