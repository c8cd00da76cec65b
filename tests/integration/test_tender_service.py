"""EiCreateTender, EiCancelTender, EiRequestTender through the whole stack, in-process,
on the real PostgreSQL. Every reply is checked against the schemas by the client."""

import pytest
from lxml import etree
from sqlalchemy import func, select

from service.soap.ns import EI, EMIX, POWER, q
from service.store.tables import request_log, tender
from tests.support import messages as msg


def count_tenders(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(tender)).scalar_one()


def tender_ids(reply) -> list[str]:
    return [t.findtext(q(EI, "tenderID")) for t in reply.payload.iter(q(EI, "eiTender"))]


def test_created_tender_is_acknowledged_with_its_ids(service):
    reply = service.call("/EiTender", msg.create_tender("r1", "party-A", "party-B", ("t1", msg.product()), ("t2", msg.product(side="buy"))))
    assert reply.code == "200"
    assert reply.payload.findtext(f".//{q(EI, 'refID')}") == "r1"
    assert [e.text for e in reply.payload.findall(q(EI, "tenderID"))] == ["t1", "t2"]
    assert reply.payload.findtext(q(EI, "counterPartyID")) == "party-B"


def test_counterparty_sees_the_tender_and_a_third_party_does_not(service):
    service.call("/EiTender", msg.create_tender("r1", "party-A", "party-B", ("t1", msg.product())))
    assert tender_ids(service.call("/EiTender", msg.request_tender("q1", "party-B"))) == ["t1"]
    assert tender_ids(service.call("/EiTender", msg.request_tender("q2", "party-A"))) == ["t1"]
    assert tender_ids(service.call("/EiTender", msg.request_tender("q3", "party-C"))) == []


def test_requested_tender_keeps_what_the_party_sent(service):
    service.call("/EiTender", msg.create_tender("r1", "party-A", "party-B", ("t1", msg.product(quantity="2.5", scale="M", price="80", energy_scale="M"))))
    shown = service.call("/EiTender", msg.request_tender("q1", "party-B")).payload.find(q(EI, "eiTender"))
    assert shown.findtext(f".//{q(EMIX, 'quantity')}") == "2.5"
    assert shown.findtext(f".//{q(EMIX, 'value')}") == "80"
    assert shown.findtext(f".//{q(POWER, 'hertz')}") == "60"


def test_request_filters_narrow_the_tenders(service):
    service.call("/EiTender", msg.create_tender("r1", "party-A", "party-B", ("t1", msg.product()), ("t2", msg.product(start="2030-01-02T10:00:00Z", market_context="http://other.example/ctx"))))
    service.call("/EiTender", msg.create_tender("r2", "party-C", "party-B", ("t3", msg.product())))
    ask = lambda rid, **kw: tender_ids(service.call("/EiTender", msg.request_tender(rid, "party-B", **kw)))  # noqa: E731
    assert sorted(ask("q1")) == ["t1", "t2", "t3"]
    assert sorted(ask("q2", counterparties=["party-C"])) == ["t3"]
    assert ask("q3", market_contexts=["http://other.example/ctx"]) == ["t2"]
    assert ask("q4", tender_ids=["t2"]) == ["t2"]
    assert sorted(ask("q5", intervals=["2030-01-01T10:30:00Z/PT1H"])) == ["t1", "t3"]
    assert ask("q6", intervals=["2030-01-02T00:00:00Z/2030-01-03T00:00:00Z"]) == ["t2"]


def test_quote_is_returned_like_a_tender(service):
    service.call("/EiTender", msg.create_tender("r1", "party-A", "party-B", ("quote-1", msg.product(state="indicationOfInterest"))))
    shown = service.call("/EiTender", msg.request_tender("q1", "party-B")).payload
    assert shown.findtext(f".//{q(EMIX, 'transactiveState')}") == "indicationOfInterest"


def test_cancelled_tender_is_no_longer_standing(service):
    service.call("/EiTender", msg.create_tender("r1", "party-A", "party-B", ("t1", msg.product()), ("t2", msg.product())))
    assert service.call("/EiTender", msg.cancel_tender("c1", "party-A", "t1")).code == "200"
    assert tender_ids(service.call("/EiTender", msg.request_tender("q1", "party-B"))) == ["t2"]
    again = service.call("/EiTender", msg.cancel_tender("c2", "party-A", "t1"))
    assert again.code == "410"


def test_cancel_by_a_stranger_is_refused_and_changes_nothing(service):
    service.call("/EiTender", msg.create_tender("r1", "party-A", "party-B", ("t1", msg.product())))
    refused = service.call("/EiTender", msg.cancel_tender("c1", "party-B", "t1"))
    assert refused.code == "403"
    assert "not yours" in refused.description
    assert service.call("/EiTender", msg.cancel_tender("c2", "party-C", "t1")).code == "404"
    assert tender_ids(service.call("/EiTender", msg.request_tender("q1", "party-B"))) == ["t1"]


def test_cancel_is_all_or_nothing(service):
    service.call("/EiTender", msg.create_tender("r1", "party-A", "party-B", ("t1", msg.product())))
    assert service.call("/EiTender", msg.cancel_tender("c1", "party-A", "t1", "unknown")).code == "404"
    assert tender_ids(service.call("/EiTender", msg.request_tender("q1", "party-B"))) == ["t1"]


def test_expired_tender_is_not_standing(service, clock):
    service.call("/EiTender", msg.create_tender("r1", "party-A", "party-B", ("t1", msg.product(expires="2030-01-01T09:55:00Z"))))
    assert tender_ids(service.call("/EiTender", msg.request_tender("q1", "party-B"))) == ["t1"]
    clock.now = clock.now.replace(year=2030, month=1, day=1, hour=9, minute=55)
    assert tender_ids(service.call("/EiTender", msg.request_tender("q2", "party-B"))) == []
    assert service.call("/EiTender", msg.cancel_tender("c1", "party-A", "t1")).code == "410"


def test_tender_already_expired_is_refused(service, engine):
    reply = service.call("/EiTender", msg.create_tender("r1", "party-A", "party-B", ("t1", msg.product(expires="2020-01-01T00:00:00Z"))))
    assert reply.code == "400"
    assert "expires" in reply.description
    assert count_tenders(engine) == 0


def test_duplicate_tender_id_is_refused_and_the_request_writes_nothing(service, engine):
    service.call("/EiTender", msg.create_tender("r1", "party-A", "party-B", ("t1", msg.product())))
    reply = service.call("/EiTender", msg.create_tender("r2", "party-A", "party-B", ("t2", msg.product()), ("t1", msg.product())))
    assert reply.code == "409"
    assert count_tenders(engine) == 1
    same_request = service.call("/EiTender", msg.create_tender("r3", "party-A", "party-B", ("t5", msg.product()), ("t5", msg.product())))
    assert same_request.code == "409"
    assert count_tenders(engine) == 1


def test_another_party_may_reuse_a_tender_id(service):
    service.call("/EiTender", msg.create_tender("r1", "party-A", "party-B", ("t1", msg.product())))
    assert service.call("/EiTender", msg.create_tender("r1", "party-C", "party-B", ("t1", msg.product()))).code == "200"


def test_retry_with_the_same_request_id_returns_the_same_answer_and_changes_nothing(service, engine):
    payload = msg.create_tender("r1", "party-A", "party-B", ("t1", msg.product()))
    first = service.call("/EiTender", payload)
    second = service.call("/EiTender", payload)
    assert first.code == "200"
    assert second.body == first.body
    assert count_tenders(engine) == 1


def test_a_retry_written_with_other_prefixes_and_indentation_is_the_same_request(service, engine):
    payload = msg.create_tender("r1", "party-A", "party-B", ("t1", msg.product()))
    token = msg.username_token("party-A", service.passwords["party-A"])
    first = service.raw("/EiTender", msg.envelope(payload, token))
    # the same request as another client library might write it: ei: -> e2:, indented
    rewritten = etree.tostring(etree.fromstring(msg.envelope(payload, token)), pretty_print=True)
    rewritten = rewritten.replace(b"ei:", b"e2:").replace(b"xmlns:ei=", b"xmlns:e2=")
    assert b"e2:tenderID" in rewritten and b"\n  " in rewritten
    second = service.raw("/EiTender", rewritten)
    assert first.code == "200"
    assert second.body == first.body
    assert count_tenders(engine) == 1


def test_refused_request_is_also_answered_the_same_on_retry(service):
    payload = msg.create_tender("r1", "party-A", "party-B", ("t1", msg.product(expires="2020-01-01T00:00:00Z")))
    assert service.call("/EiTender", payload).code == "400"
    assert service.call("/EiTender", payload).code == "400"


def test_same_request_id_with_another_body_is_refused(service, engine):
    service.call("/EiTender", msg.create_tender("r1", "party-A", "party-B", ("t1", msg.product())))
    reply = service.call("/EiTender", msg.create_tender("r1", "party-A", "party-B", ("t2", msg.product())))
    assert reply.code == "463"
    assert count_tenders(engine) == 1


def test_unknown_counterparty_is_refused(service, engine):
    reply = service.call("/EiTender", msg.create_tender("r1", "party-A", "nobody", ("t1", msg.product())))
    assert reply.code == "404"
    assert count_tenders(engine) == 0


def test_durations_and_units_the_schema_allows_but_temix_refuses(service, engine):
    for rid, product, words in [
        ("r1", msg.product(duration="1 hour"), "duration"),
        ("r2", msg.product(duration="PT0S"), "duration"),
        ("r3", msg.product(quantity="-5"), "positive"),
        ("r4", msg.product(quantity="NaN"), "number"),
        ("r5", msg.product(start="2030-01-01T10:00:00"), "time zone"),
        ("r6", msg.product(duration="P1Y2Q"), "duration"),
    ]:
        reply = service.call("/EiTender", msg.create_tender(rid, "party-A", "party-B", ("t1", product)))
        assert reply.code == "400", (rid, reply.description)
        assert words in reply.description.lower() or words in reply.description, (rid, reply.description)
    assert count_tenders(engine) == 0


def test_units_are_normalised_to_kw_and_price_per_kwh(service, engine):
    service.call("/EiTender", msg.create_tender("r1", "party-A", "party-B", ("t1", msg.product(quantity="2", scale="M", price="80", energy_scale="M"))))
    with engine.connect() as conn:
        row = conn.execute(select(tender.c.quantity_kw, tender.c.price_per_kwh, tender.c.start_at, tender.c.end_at)).one()
    assert row.quantity_kw == 2000
    assert row.price_per_kwh == __import__("decimal").Decimal("0.08")
    assert (row.end_at - row.start_at).total_seconds() == 3600


def test_reads_are_not_logged_as_idempotent_requests(service, engine):
    service.call("/EiTender", msg.request_tender("q1", "party-B"))
    service.call("/EiTender", msg.request_tender("q1", "party-B"))
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(request_log)).scalar_one() == 0


REFUSED_READS = {
    "EiRequestTender": ("/EiTender", msg.request_tender("q-refused", "party-A", intervals=["2030-01-01T10:00:00Z/PT0S"])),
    "EiRequestTransaction": ("/EiTransaction", msg.request_transaction("q-refused", "party-A", intervals=["not an interval"])),
    "EiRequestPosition": ("/EiTransaction", msg.request_position("q-refused", "party-A", "2030-01-01T10:00:00Z", "PT1H", "P1D")),
}


@pytest.mark.parametrize("operation", REFUSED_READS)
def test_a_refused_read_is_not_logged_so_its_request_id_stays_free(service, engine, operation):
    endpoint, read = REFUSED_READS[operation]
    assert service.call(endpoint, read).code == "400"
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(request_log)).scalar_one() == 0
    created = service.call("/EiTender", msg.create_tender("q-refused", "party-A", "party-B", ("t1", msg.product())))
    assert created.code == "200", created.description
