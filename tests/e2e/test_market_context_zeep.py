"""EiRequestEiMarketContext with zeep (strict, WS-Security, the project's plugin) over the
running server: its WSDL loads, an enrolled party reads the terms, another is refused."""

from __future__ import annotations

import uuid

import pytest
import zeep
from zeep.wsse.username import UsernameToken

from service.client import SubstitutionPlugin
from tests.e2e.conftest import CTX


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def client(server, party_id: str, password: str, *, digest: bool) -> zeep.Client:
    return zeep.Client(
        f"{server.base_url}/EiMarketContext?wsdl",
        settings=zeep.Settings(strict=True),
        wsse=UsernameToken(party_id, password, use_digest=digest),
        plugins=[SubstitutionPlugin()],
    )


@pytest.fixture(scope="module")
def berlin(server) -> str:
    uri = f"http://market.example.com/temix/{unique('berlin')}"
    server.temix(
        "market-context", "add", uri, "--timezone", "Europe/Berlin", "--currency", "EUR", "--energy-unit", "MWh",
        "--option-lead-time", "PT2H", "--option-granularity", "PT15M",
    )
    return uri


@pytest.mark.parametrize("digest", [True, False], ids=["PasswordDigest", "PasswordText"])
def test_an_enrolled_party_reads_its_market_contexts_terms_with_zeep(server, berlin, digest):
    party = unique("mc-zeep")
    server.add_party(party, "secret-mc", market_contexts=(CTX, berlin))
    reply = client(server, party, "secret-mc", digest=digest).service.EiRequestEiMarketContext(
        requestID=unique("req"), marketContext=[berlin, CTX], partyID=party
    )
    assert reply.eiResponse.responseCode == "200", reply.eiResponse.responseDescription
    assert reply.partyID == party
    first, second = reply.marketContextTerms
    assert (first.marketContext, first.timezone, first.currency, first.energyUnit) == (berlin, "Europe/Berlin", "EUR", "MWh")
    assert (first.optionLeadTime, first.optionGranularity, first.publishesPrices) == ("PT2H", "PT15M", True)
    assert first.publisherPartyID == berlin
    assert (second.marketContext, second.currency, second.energyUnit) == (CTX, "USD", "kWh")


def test_a_party_not_enrolled_is_refused_with_403_over_zeep(server, berlin):
    party = unique("mc-outsider")
    server.add_party(party, "secret-out", market_contexts=(CTX,))
    reply = client(server, party, "secret-out", digest=True).service.EiRequestEiMarketContext(
        requestID=unique("req"), marketContext=[berlin]
    )
    assert reply.eiResponse.responseCode == "403"
    assert berlin in reply.eiResponse.responseDescription
    assert reply.marketContextTerms == []
