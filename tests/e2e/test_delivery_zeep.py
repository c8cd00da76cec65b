"""/EiDelivery with zeep (strict, WS-Security, the project's plugin) over the running server:
a meter reports readings (temix:eiReportDelivery), a retry changes nothing, a correction
replaces a value, and the party reads its own metered energy back (EiCreateDelivery)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import zeep
from zeep.wsse.username import UsernameToken

from service.client import SubstitutionPlugin, substitute
from tests.e2e.conftest import CTX

T0 = datetime(2030, 3, 1, 10, tzinfo=UTC)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def client(server, party_id: str, password: str) -> zeep.Client:
    return zeep.Client(
        f"{server.base_url}/EiDelivery?wsdl",
        settings=zeep.Settings(strict=True),
        wsse=UsernameToken(party_id, password, use_digest=True),
        plugins=[SubstitutionPlugin()],
    )


def delivery(soap: zeep.Client, start: datetime, *, quantity=None, injection=False, duration="PT1H", uid="d-1"):
    power = dict(
        emixInterface=substitute(soap, "power:pnode", node="NODE-1"),
        energyItem=substitute(soap, "power:energyReal", itemDescription="RealEnergy", itemUnits="Wh", siScaleCode="k"),
        marketContext=CTX,
    )
    if quantity is not None:
        power["quantity"] = quantity
    return dict(
        dtStart={"dateTime": start}, duration=duration,
        streamPayloadBase=substitute(soap, "temix:meteredPower", **power),
        uid=uid, injection=injection,
    )


@pytest.fixture(scope="module")
def parties(server) -> tuple[str, str]:
    meter, party = unique("meter"), unique("metered")
    server.add_party(meter, "secret-meter")
    server.temix("party", "role", meter, "--add", "meter")
    server.add_party(party, "secret-party", market_contexts=(CTX,))
    return meter, party


def report(soap, meter, party, request_id, *readings):
    return soap.service.EiReportDelivery(
        requestID=request_id, partyID=meter,
        meterReading=[{"partyID": party, "delivery": reading} for reading in readings],
    )


def test_a_meter_reports_and_the_party_reads_its_metered_energy_back(server, parties):
    meter, party = parties
    soap = client(server, meter, "secret-meter")
    first = unique("req")
    readings = (delivery(soap, T0, quantity=Decimal("1.25")), delivery(soap, T0.replace(hour=11), quantity=Decimal("0.75")))
    reply = report(soap, meter, party, first, *readings)
    assert reply.eiResponse.responseCode == "200", reply.eiResponse.responseDescription
    assert (reply.newReadings, reply.correctedReadings, reply.unchangedReadings) == (2, 0, 0)

    retried = report(soap, meter, party, first, *readings)  # the same request again: the first answer
    assert (retried.newReadings, retried.correctedReadings) == (2, 0)
    corrected = report(soap, meter, party, unique("req"), delivery(soap, T0, quantity=Decimal("1.5")))
    assert (corrected.newReadings, corrected.correctedReadings, corrected.unchangedReadings) == (0, 1, 0)

    mine = client(server, party, "secret-party")
    asked = mine.service.EiCreateDelivery(
        requestID=unique("req"), requestorPartyID=party,
        delivery=[
            delivery(mine, T0, uid="one"),
            delivery(mine, T0, duration="PT2H", uid="both"),
            delivery(mine, T0, injection=True, uid="none"),
        ],
    )
    assert asked.eiResponse.responseCode == "200", asked.eiResponse.responseDescription
    one, both, none = asked.eiDelivery
    assert [d.uid for d in asked.eiDelivery] == ["one", "both", "none"]
    assert Decimal(str(one.streamPayloadBase.quantity)) == Decimal("1.5")
    assert Decimal(str(both.streamPayloadBase.quantity)) == Decimal("2.25")
    assert none.streamPayloadBase.quantity is None  # nothing metered in that direction
    assert one.eiDeliveryID and one.eiDeliveryID != both.eiDeliveryID


def test_only_a_meter_reports_and_a_bad_reading_refuses_the_whole_report(server, parties):
    meter, party = parties
    outsider = client(server, party, "secret-party")
    refused = report(outsider, party, party, unique("req"), delivery(outsider, T0, quantity=Decimal("1")))
    assert refused.eiResponse.responseCode == "403"

    soap = client(server, meter, "secret-meter")
    later = T0.replace(day=2)
    bad = report(soap, meter, party, unique("req"),
                 delivery(soap, later, quantity=Decimal("1")),
                 delivery(soap, later.replace(minute=30), quantity=Decimal("1")))  # not a settlement interval
    assert bad.eiResponse.responseCode == "400"
    assert "meterReading 2" in bad.eiResponse.responseDescription
    mine = client(server, party, "secret-party")
    asked = mine.service.EiCreateDelivery(
        requestID=unique("req"), requestorPartyID=party,
        delivery=[delivery(mine, later)],
    )
    assert asked.eiDelivery[0].streamPayloadBase.quantity is None  # the first reading was not kept either
