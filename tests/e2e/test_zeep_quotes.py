"""zeep against the running service: the three EiQuote operations, strict mode, with the
SubstitutionPlugin, and the trade prices a market context publishes.

A (PasswordDigest) quotes to B (PasswordText) and to the whole market context; B reads them,
A cancels one; after B accepts a tender of A, B reads the market's published trade price.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from service.client import substitute
from tests.e2e.test_zeep_client import Party, request_id, unique

START = datetime(2030, 1, 1, 10, tzinfo=UTC)


@pytest.fixture(scope="module")
def market(server) -> tuple[str, Party, Party]:
    """A market context of its own (its published prices are this module's), with A and B in it."""
    uri = f"http://market.example.com/temix/quotes-{uuid.uuid4().hex[:8]}"
    server.add_market_context(uri, currency="USD")
    a, b = unique("zq-A"), unique("zq-B")
    server.add_party(a, "secret-A", market_contexts=(uri,))
    server.add_party(b, "secret-B", market_contexts=(uri,))
    return uri, Party(server.base_url, a, "secret-A", digest=True), Party(server.base_url, b, "secret-B", digest=False)


def product(client, market_context: str, node: str, *, state: str, side: str = "sell", price: str = "0.08", quantity: str = "10"):
    power = substitute(
        client,
        "power:temixPower",
        emixInterface=substitute(client, "power:pnode", node=node),
        price={"value": Decimal(price)},
        powerItem=substitute(
            client, "power:powerReal", itemDescription="RealPower", itemUnits="W", siScaleCode="k",
            powerAttributes={"hertz": 60, "voltage": 240, "ac": True},
        ),
        quantity=Decimal(quantity),
    )
    return substitute(
        client, "emix:product", dtStart={"dateTime": START}, duration="PT1H", streamPayloadBase=power,
        uid=unique("product"), transactiveState=state, currency="USD", marketContext=market_context, side=side,
    )


def test_quotes_are_created_read_and_cancelled_with_zeep(market):
    uri, a, b = market
    quotes = a.client("EiQuote")
    to_b, to_all = unique("quote"), unique("quote")
    create = dict(
        requestID=request_id(), publisherPartyID=a.party_id, subscriberPartyID=b.party_id,
        eiQuote=[{"quoteID": to_b, "emixBase": [product(quotes, uri, "NODE-Q", state="indicationOfInterest")]}],
    )
    created = quotes.service.EiCreateQuote(**create)
    assert created.eiResponse.responseCode == "200", created.eiResponse.responseDescription
    assert (created.subscriberPartyID, created.publisherPartyID, created.quoteID) == (b.party_id, a.party_id, [to_b])
    to_market = quotes.service.EiCreateQuote(
        requestID=request_id(), publisherPartyID=a.party_id, subscriberPartyID=uri,
        eiQuote=[{"quoteID": to_all, "emixBase": [product(quotes, uri, "NODE-Q", state="publication", price="0.09")]}],
    )
    assert to_market.eiResponse.responseCode == "200", to_market.eiResponse.responseDescription

    reader = b.client("EiQuote")
    seen = reader.service.EiRequestQuote(requestID=request_id(), requestorPartyID=b.party_id, publisherPartyID=a.party_id)
    assert seen.eiResponse.responseCode == "200", seen.eiResponse.responseDescription
    assert sorted(item.quoteID for item in seen.eiQuote) == sorted([to_b, to_all])
    prices = {item.quoteID: item.emixBase[0].streamPayloadBase.price.value for item in seen.eiQuote}
    assert prices == {to_b: Decimal("0.08"), to_all: Decimal("0.09")}

    cancelled = quotes.service.EiCancelQuote(requestID=request_id(), publisherPartyID=a.party_id, quoteID=[to_b])
    assert cancelled.eiResponse.responseCode == "200", cancelled.eiResponse.responseDescription
    seen = reader.service.EiRequestQuote(
        requestID=request_id(), requestorPartyID=b.party_id, publisherPartyID=a.party_id, quoteID=[to_b, to_all]
    )
    assert [item.quoteID for item in seen.eiQuote] == [to_all]


def test_a_trade_is_published_and_read_with_zeep(market):
    uri, a, b = market
    node, tender_id = unique("NODE"), unique("tender")
    tendered = a.tenders.service.EiCreateTender(
        requestID=request_id(), partyID=a.party_id, counterPartyID=b.party_id,
        eiTender=[{"tenderID": tender_id, "emixBase": product(a.tenders, uri, node, state="tender", price="0.12")}],
    )
    assert tendered.eiResponse.responseCode == "200", tendered.eiResponse.responseDescription
    accepted = b.transactions.service.EiCreateTransaction(
        requestID=request_id(), partyID=b.party_id, counterPartyID=a.party_id,
        eiTransaction=[{
            "transactionID": unique("txn"), "tenderID": tender_id,
            "emixBase": product(b.transactions, uri, node, state="transaction", side="buy", price="0.12", quantity="3"),
        }],
    )
    assert accepted.eiResponse.responseCode == "200", accepted.eiResponse.responseDescription

    published = b.client("EiQuote").service.EiRequestQuote(
        requestID=request_id(), requestorPartyID=b.party_id, publisherPartyID=uri, marketContext=[uri]
    )
    assert published.eiResponse.responseCode == "200", published.eiResponse.responseDescription
    (price,) = [item for item in published.eiQuote if item.emixBase[0].streamPayloadBase.emixInterface.node == node]
    products = {p.uid: p for p in price.emixBase}
    assert {p.transactiveState for p in price.emixBase} == {"publication"}
    assert products["last"].streamPayloadBase.price.value == Decimal("0.12")
    assert products["vwap"].streamPayloadBase.price.value == Decimal("0.12")
    assert products["vwap"].streamPayloadBase.quantity == Decimal("3")  # kWh
