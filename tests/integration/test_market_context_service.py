"""EiRequestEiMarketContext on /EiMarketContext, in-process on PostgreSQL: the terms of the
market contexts a party is enrolled in; another's refused with 403, an unknown one with 462."""

from __future__ import annotations

from sqlalchemy import func, select

from service.domain.markets import MarketContext
from service.soap.ns import EI, EMIX, TEMIX, q
from service.store.markets import add_market_context
from service.store.parties import Memberships, enroll
from service.store.tables import request_log
from tests.support import messages as msg

CTX = msg.CTX
NEW_YORK = "http://market.example.com/temix/new-york"  # registered by the fixture, nobody enrolled
OTHER = "http://other.example/ctx"


def ask(service, party, *uris, request_id="mc-1", **options):
    return service.call("/EiMarketContext", msg.request_market_context(request_id, party, *uris, **options), as_party=party)


def terms(reply) -> list[dict[str, str]]:
    return [
        {etree_local(child.tag): child.text for child in element}
        for element in reply.payload.findall(q(TEMIX, "marketContextTerms"))
    ]


def etree_local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def test_an_enrolled_party_reads_the_terms_of_its_market_context(service, engine):
    with engine.begin() as conn:
        enroll(conn, "party-A", Memberships.of([NEW_YORK]))
    reply = ask(service, "party-A", NEW_YORK, CTX)
    assert reply.code == "200", reply.description
    assert reply.payload.tag == q(TEMIX, "eiReplyMarketContext")
    assert reply.payload.findtext(q(EI, "partyID")) == "party-A"
    assert terms(reply) == [
        {
            "marketContext": NEW_YORK, "timezone": "America/New_York", "currency": "USD", "energyUnit": "MWh",
            "optionLeadTime": "PT1H", "optionGranularity": "PT1H", "publishesPrices": "true",
            "publisherPartyID": NEW_YORK, "settlementInterval": "PT1H",
        },
        {
            "marketContext": CTX, "timezone": "UTC", "energyUnit": "kWh", "optionLeadTime": "PT1H",
            "optionGranularity": "PT1H", "publishesPrices": "true", "publisherPartyID": CTX,
            "settlementInterval": "PT1H",
        },
    ]


def test_the_partyid_may_be_left_out_the_authenticated_party_asks(service):
    reply = ask(service, "party-B", CTX, with_party=False)
    assert reply.code == "200", reply.description
    assert [t["marketContext"] for t in terms(reply)] == [CTX]


def test_a_market_context_the_party_is_not_enrolled_in_is_refused_with_403_and_no_terms(service):
    reply = ask(service, "party-A", CTX, OTHER)
    assert reply.code == "403"
    assert OTHER in reply.description and "not enrolled" in reply.description
    assert terms(reply) == []


def test_an_unregistered_market_context_is_refused_with_462(service):
    reply = ask(service, "party-A", "http://nowhere.example/ctx")
    assert reply.code == "462"
    assert "http://nowhere.example/ctx" in reply.description


def test_speaking_for_another_party_is_a_client_fault(service):
    reply = service.call("/EiMarketContext", msg.request_market_context("mc-x", "party-B", CTX), as_party="party-A")
    assert reply.is_fault and reply.faultcode.endswith("Client.NotAuthorized")


def test_an_enrolment_and_a_market_context_just_made_are_seen_at_once(service, engine):
    fresh = "http://market.example.com/temix/fresh"
    assert ask(service, "party-C", fresh, request_id="before").code == "462"
    with engine.begin() as conn:
        add_market_context(conn, MarketContext(fresh, "Europe/Paris", "EUR", "kWh", "PT30M", "PT15M"))
    assert ask(service, "party-C", fresh, request_id="registered").code == "403"
    with engine.begin() as conn:
        enroll(conn, "party-C", Memberships.of([fresh]))
    reply = ask(service, "party-C", fresh, request_id="enrolled")
    assert reply.code == "200", reply.description
    assert terms(reply)[0]["optionGranularity"] == "PT15M"
    assert reply.payload.find(f"{q(TEMIX, 'marketContextTerms')}/{q(EMIX, 'currency')}").text == "EUR"


def test_asking_is_a_read_nothing_is_logged(service, engine):
    assert ask(service, "party-A", CTX).code == "200"
    assert ask(service, "party-A", OTHER).code == "403"
    assert ask(service, "party-A", CTX).code == "200"  # the same requestID again: asked again
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(request_log)).scalar_one() == 0


def test_the_endpoint_takes_only_its_own_operation(service):
    reply = service.call("/EiMarketContext", msg.request_tender("rt-1", "party-A"))
    assert reply.is_fault and reply.faultcode.endswith("Client.SoapEnvelope")
    reply = service.call("/EiTender", msg.request_market_context("mc-2", "party-A", CTX))
    assert reply.is_fault and reply.faultcode.endswith("Client.SoapEnvelope")


def test_the_terms_name_the_exchange_and_the_balancing_party_once_the_operator_sets_them(service, engine):
    from service.store.markets import set_balancing, set_exchange, set_settlement_interval

    with engine.begin() as conn:
        set_exchange(conn, CTX, True)
        set_settlement_interval(conn, CTX, "PT15M")
        set_balancing(conn, CTX, "party-C", "PT5M")
    (found,) = terms(ask(service, "party-A", CTX, request_id="mc-set"))
    assert {key: found.get(key) for key in ("exchangePartyID", "settlementInterval", "balancingPartyID", "priceGrace")} == {
        "exchangePartyID": f"{CTX}#exchange", "settlementInterval": "PT15M", "balancingPartyID": "party-C",
        "priceGrace": "PT5M",
    }
