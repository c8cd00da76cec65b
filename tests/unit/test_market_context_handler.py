"""EiRequestEiMarketContext on a fake unit of work: who sees which market context's terms,
and the reply written from them."""

from __future__ import annotations

import pytest
from lxml import etree

from service.domain.commands import MarketContextTerms, RequestMarketContext
from service.domain.errors import NotPermittedError, UnknownMarketContextError
from service.domain.markets import MarketContext
from service.handlers.markets import request_market_context
from service.soap import readers
from service.soap.ns import EI, EMIX, TEMIX, q
from service.soap.writers import Answer
from service import pipeline
from tests.support import messages as msg
from tests.unit.fake_uow import FakeUnitOfWork, Party
from tests.unit.test_handlers import context

BERLIN = MarketContext(
    "http://market.example.com/temix/berlin", "Europe/Berlin", "EUR", "MWh", "PT2H", "PT15M",
    exchange=True, settlement_interval="PT15M", balancing_party_id="rep-1", price_grace="PT5M",
)
OPEN = MarketContext("urn:temix:open")  # no currency: any
SECRET = MarketContext("urn:temix:other-market")


@pytest.fixture(scope="module")
def schemas():
    from service.config import SCHEMA_DIR
    from service.soap.schema import SchemaSet

    return SchemaSet(SCHEMA_DIR)


def uow() -> FakeUnitOfWork:
    parties = {
        "party-A": Party(market_contexts={BERLIN.uri, OPEN.uri}),
        "party-B": Party(market_contexts={SECRET.uri}),
    }
    return FakeUnitOfWork(parties, market_contexts=(BERLIN, OPEN, SECRET))


def test_a_party_gets_the_terms_of_the_market_contexts_it_is_enrolled_in_in_the_order_asked():
    found = request_market_context(RequestMarketContext((OPEN.uri, BERLIN.uri, OPEN.uri)), uow(), context("party-A"))
    assert found == MarketContextTerms((OPEN, BERLIN))


def test_a_market_context_the_party_is_not_enrolled_in_is_refused_with_403_naming_it():
    with pytest.raises(NotPermittedError, match="other-market") as refused:
        request_market_context(RequestMarketContext((BERLIN.uri, SECRET.uri)), uow(), context("party-A"))
    assert refused.value.response_code == "403"


def test_an_unregistered_market_context_is_refused_with_462():
    with pytest.raises(UnknownMarketContextError, match="urn:nowhere") as refused:
        request_market_context(RequestMarketContext(("urn:nowhere",)), uow(), context("party-A"))
    assert refused.value.response_code == "462"


def test_the_reader_takes_every_market_context_trimmed():
    payload = msg.request_market_context("r1", "party-A", f" {BERLIN.uri} ", OPEN.uri)
    assert readers.request_market_context(payload, readers.Reading(lambda uri: None)) == RequestMarketContext(
        (BERLIN.uri, OPEN.uri)
    )


def test_the_reply_states_each_term_and_the_publisher():
    writer = pipeline.OPERATIONS["EiRequestEiMarketContext"].write
    reply = writer(Answer("r1", "party-A", None), MarketContextTerms((BERLIN, OPEN)))
    berlin, open_ = reply.findall(q(TEMIX, "marketContextTerms"))
    assert [child.text for child in berlin] == [
        BERLIN.uri, "Europe/Berlin", "EUR", "MWh", "PT2H", "PT15M", "true", BERLIN.uri,
        f"{BERLIN.uri}#exchange", "PT15M", "rep-1", "PT5M",
    ]
    assert [etree.QName(child).localname for child in open_][-2:] == ["publisherPartyID", "settlementInterval"]
    assert open_.findtext(q(TEMIX, "settlementInterval")) == "PT1H"  # no exchange, no balancing party: left out
    assert berlin.findtext(q(EI, "publisherPartyID")) == BERLIN.publisher_id
    assert open_.find(q(EMIX, "currency")) is None  # any currency: the element is left out
    assert reply.findtext(q(EI, "partyID")) == "party-A"
    assert etree.QName(reply).localname == "eiReplyMarketContext"


def readme_xml_after(heading: str) -> list[etree._Element]:
    """The ```xml blocks of the README section that starts at ``heading``."""
    from service.config import REPO_ROOT

    text = (REPO_ROOT / "README.md").read_text()
    section = text[text.index(heading):]
    section = section[: section.index("\n### ", 1)]
    blocks = [block.split("```", 1)[0] for block in section.split("```xml\n")[1:]]
    return [etree.fromstring(block.replace("<wsse:Security>...</wsse:Security>", "").encode()) for block in blocks]


def test_the_readmes_example_request_and_reply_are_what_the_service_reads_and_writes(schemas):
    envelope, reply = readme_xml_after("### Market-context discovery")
    payload = envelope.find("{http://schemas.xmlsoap.org/soap/envelope/}Body")[0]
    assert schemas.errors(payload) == [] and schemas.errors(reply) == []
    asked = readers.request_market_context(payload, readers.Reading(lambda uri: None))
    ctx1 = MarketContext(asked.market_contexts[0], "America/New_York", "USD", "MWh")
    written = pipeline.OPERATIONS["EiRequestEiMarketContext"].write(Answer("req-42", "rep-1", None), MarketContextTerms((ctx1,)))
    canonical = lambda e: etree.canonicalize(etree.tostring(e).decode(), strip_text=True, rewrite_prefixes=True)  # noqa: E731
    assert canonical(written) == canonical(reply)
