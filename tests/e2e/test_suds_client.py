"""suds (suds-community, the WSDL-driven Python client older code bases use) against the running
service: it loads the WSDL of every endpoint of the operation table, finds exactly the table's
operations there, and calls the reads of issue 13's services (market-context terms, trade
prices, one's own registrations) with its own WS-Security UsernameToken."""

from __future__ import annotations

import uuid

import pytest
import suds.client
from lxml import etree
from suds.wsse import Security, UsernameToken

from service import pipeline
from service.soap.ns import EI, q
from tests.e2e.conftest import CTX


def client(server, endpoint: str, party_id: str | None = None, password: str = "") -> suds.client.Client:
    loaded = suds.client.Client(f"{server.base_url}/{endpoint}?wsdl", cache=None)
    if party_id is not None:
        security = Security()
        security.tokens.append(UsernameToken(party_id, password))
        loaded.set_options(wsse=security)
    return loaded


@pytest.mark.parametrize("endpoint", pipeline.ENDPOINTS)
def test_suds_loads_each_wsdl_with_the_operations_of_the_table(server, endpoint):
    loaded = client(server, endpoint)
    found = {method for service in loaded.wsdl.services for port in service.ports for method in port.methods}
    assert found == {operation.name for operation in pipeline.TABLE if operation.endpoint == endpoint}


def test_suds_reads_market_context_terms_trade_prices_and_its_own_registrations(server):
    party_id = f"suds-{uuid.uuid4().hex[:8]}"
    quiet = f"http://market.example.com/temix/{party_id}"  # a market context nothing traded in yet
    server.temix("market-context", "add", quiet)
    server.add_party(party_id, "pw-suds", market_contexts=(CTX, quiet))

    terms = client(server, "EiMarketContext", party_id, "pw-suds").service.EiRequestEiMarketContext(
        requestID="suds-1", marketContext=[CTX], partyID=party_id
    )
    assert terms.eiResponse.responseCode == "200"
    assert (terms.marketContextTerms[0].marketContext, terms.marketContextTerms[0].currency) == (CTX, "USD")

    quotes = client(server, "EiQuote", party_id, "pw-suds")
    prices = quotes.service.EiRequestQuote(
        requestID="suds-2", requestorPartyID=party_id, publisherPartyID=quiet, marketContext=[quiet]
    )
    assert prices.eiResponse.responseCode == "200"
    # suds cannot type emix:product (a substitution group head) in a reply that carries one
    # (TypeNotFound): it reads those as XML, with retxml (README "Calling it")
    quotes.set_options(retxml=True)
    raw = quotes.service.EiRequestQuote(
        requestID="suds-2b", requestorPartyID=party_id, publisherPartyID=CTX, marketContext=[CTX]
    )
    assert etree.fromstring(raw).findtext(f".//{q(EI, 'responseCode')}") == "200"

    mine = client(server, "EiRegistration", party_id, "pw-suds").service.EiRequestPartyRegistration(
        requestID="suds-3", registreePartyID=party_id, requestorPartyID=party_id
    )
    assert mine.eiResponse.responseCode == "200"
