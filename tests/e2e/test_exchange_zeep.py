"""zeep against the running service: two parties send crossing orders to a market context's
exchange; the second fills at once, and each reads its fill with EiRequestTransaction, the
exchange as its counterparty."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import zeep
from zeep.wsse.username import UsernameToken

from service.client import SubstitutionPlugin, substitute


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def order(client, market: str, *, side: str, quantity: str, price: str):
    power = substitute(
        client, "power:temixPower",
        emixInterface=substitute(client, "power:pnode", node="NODE-1"),
        price={"value": Decimal(price)},
        powerItem=substitute(client, "power:powerReal", itemDescription="RealPower", itemUnits="W", siScaleCode="k",
                             powerAttributes={"hertz": 60, "voltage": 240, "ac": True}),
        quantity=Decimal(quantity),
    )
    return substitute(
        client, "emix:product", dtStart={"dateTime": datetime(2030, 1, 1, 10, tzinfo=UTC)}, duration="PT1H",
        streamPayloadBase=power, uid=unique("product"), transactiveState="tender", currency="USD",
        marketContext=market, side=side,
    )


def test_crossing_orders_sent_with_zeep_fill_against_the_exchange(server):
    market = f"http://market.example.com/temix/{unique('exchange')}"
    server.temix("market-context", "add", market, "--currency", "USD", "--exchange")
    exchange = f"{market}#exchange"
    clients = {}
    for name in ("seller", "buyer"):
        party = unique(name)
        server.add_party(party, f"secret-{name}", market_contexts=(market,))
        clients[name] = party, {
            endpoint: zeep.Client(f"{server.base_url}/{endpoint}?wsdl", settings=zeep.Settings(strict=True),
                                  wsse=UsernameToken(party, f"secret-{name}", use_digest=True),
                                  plugins=[SubstitutionPlugin()])
            for endpoint in ("EiTender", "EiTransaction")
        }
    replies = {}
    for name, side, quantity, price in (("seller", "sell", "10", "0.08"), ("buyer", "buy", "4", "0.09")):
        party, client = clients[name]
        replies[name] = client["EiTender"].service.EiCreateTender(
            requestID=unique("req"), partyID=party, counterPartyID=exchange,
            eiTender=[{"tenderID": f"{name}-order", "emixBase": order(client["EiTender"], market, side=side,
                                                                      quantity=quantity, price=price)}],
        )
        assert replies[name].eiResponse.responseCode == "200", replies[name].eiResponse.responseDescription
    assert replies["buyer"].eiResponse.responseDescription == "OK; filled at once: buyer-order 4 of 4 kW filled in 1 fill(s)"
    for name, side in (("buyer", "buy"), ("seller", "sell")):
        party, client = clients[name]
        listed = client["EiTransaction"].service.EiRequestTransaction(
            requestID=unique("req"), partyID=party, requestorPartyID=party, counterPartyID=[exchange]
        )
        assert listed.eiResponse.responseCode == "200"
        (fill,) = listed.eiTransaction
        assert fill.tenderID == f"{name}-order"
        assert fill.emixBase.side == side
        assert fill.emixBase.streamPayloadBase.quantity == 4
        assert fill.emixBase.streamPayloadBase.price.value == Decimal("0.08")  # the resting order's price
    party, client = clients["seller"]
    standing = client["EiTender"].service.EiRequestTender(
        requestID=unique("req"), partyID=party, requestorPartyID=party, tenderID=["seller-order"]
    )
    assert standing.eiTender[0].emixBase.streamPayloadBase.quantity == 6
    # the book view: the seller's 6 kW rest at 0.08, with no name or tenderID beside them
    seen = client["EiTender"].service.EiRequestBook(
        requestID=unique("req"), requestorPartyID=party, marketContext=market,
        emixInterface=substitute(client["EiTender"], "power:pnode", node="NODE-1"), depth=3,
    )
    assert seen.eiResponse.responseCode == "200", seen.eiResponse.responseDescription
    (book,) = seen.book
    assert (book.productKind, book.emixInterface.node, book.currency) == ("energy", "NODE-1", "USD")
    assert book.dtStart.dateTime == datetime(2030, 1, 1, 10, tzinfo=UTC) and book.duration == "PT1H"
    assert book.bid == [] and [(o.price, o.rate, o.orders) for o in book.offer] == [(Decimal("0.08"), Decimal(6), 1)]


def test_a_party_outside_the_market_context_cannot_read_its_book_with_zeep(server):
    market = f"http://market.example.com/temix/{unique('exchange')}"
    server.temix("market-context", "add", market, "--exchange")
    party = unique("outsider")
    server.add_party(party, "secret-outsider")
    client = zeep.Client(f"{server.base_url}/EiTender?wsdl", settings=zeep.Settings(strict=True),
                         wsse=UsernameToken(party, "secret-outsider", use_digest=True), plugins=[SubstitutionPlugin()])
    seen = client.service.EiRequestBook(requestID=unique("req"), requestorPartyID=party, marketContext=market)
    assert seen.eiResponse.responseCode == "403" and seen.book == []
