"""/EiDelivery at the edge: the README's example report validates and reads as the readings it
shows; quantities are read exactly in the unit of power:energyReal; the replies validate."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from service.config import REPO_ROOT, Settings
from service.domain.deliveries import CreatedDelivery, MeteredDelivery, RecordCounts, ReportedDelivery
from service.domain.errors import InvalidValueError
from service.domain.markets import MarketContext
from service.soap import deliveries as wd
from service.soap import readers
from service.soap import writers as w
from service.soap.ns import EMIX, POWER, PYLD, SCALE, TEMIX, q
from service.soap.schema import SchemaSet

CTX = "http://market.example.com/temix/ctx1"
READING = readers.Reading(lambda uri: MarketContext(uri))


@pytest.fixture(scope="module")
def schemas() -> SchemaSet:
    settings = Settings.from_env(environ={}, data_dir=Path("/nonexistent"), database_url="postgresql://unused/")
    return SchemaSet(settings.schema_dir, settings.schema_entry)


def readme_report() -> etree._Element:
    text = (REPO_ROOT / "README.md").read_text()
    section = text[text.index("### `/EiDelivery`"):]
    return etree.fromstring(section.split("```xml\n", 1)[1].split("```", 1)[0].encode())


def test_the_readmes_example_report_validates_and_reads_as_its_reading(schemas):
    payload = readme_report()
    assert schemas.errors(payload) == []
    (reading,) = wd.report_delivery(payload, READING).readings
    assert (reading.party_id, reading.market_context, reading.interface) == ("house-7", CTX, "NODE-1")
    assert (reading.start, reading.end) == (datetime(2030, 3, 1, 10, tzinfo=UTC), datetime(2030, 3, 1, 11, tzinfo=UTC))
    assert (reading.injection, reading.energy_kwh) == (False, Decimal("1.25"))


@pytest.mark.parametrize("scale, quantity, kwh", [("none", "1250", "1.25"), ("M", "0.0000000001", "0.0000001"), ("k", "3.000", "3")])
def test_a_quantity_is_read_exactly_in_the_unit_of_energy_real(schemas, scale, quantity, kwh):
    payload = readme_report()
    payload.find(f".//{q(SCALE, 'siScaleCode')}").text = scale
    payload.find(f".//{q(EMIX, 'quantity')}").text = quantity
    assert wd.report_delivery(payload, READING).readings[0].energy_kwh == Decimal(kwh)


def test_a_transport_interface_or_a_plain_temix_power_payload_is_refused(schemas):
    payload = readme_report()
    metered = payload.find(f".//{q(TEMIX, 'meteredPower')}")
    metered[0].tag = q(POWER, "aggregatedPnode")  # another one-node interface: fine
    assert wd.report_delivery(payload, READING).readings[0].interface == "NODE-1"
    plain = copy.deepcopy(payload)
    plain.find(f".//{q(TEMIX, 'meteredPower')}").tag = q(POWER, "temixPower")
    with pytest.raises(InvalidValueError, match="temix:meteredPower"):
        wd.report_delivery(plain, READING)


def test_a_create_delivery_request_of_the_same_shape_validates_and_its_reply_too(schemas):
    delivery = readme_report().find(f".//{q(EMIX, 'delivery')}")
    delivery.find(f".//{q(EMIX, 'quantity')}").getparent().remove(delivery.find(f".//{q(EMIX, 'quantity')}"))
    request = etree.Element(q(PYLD, "eiCreateDelivery"))
    etree.SubElement(request, q(PYLD, "requestID")).text = "r1"
    etree.SubElement(request, "{http://docs.oasis-open.org/ns/energyinterop/201110/cts.04}requestorPartyID").text = "house-7"
    request.append(delivery)
    assert schemas.errors(request) == []
    (asked,) = wd.create_delivery(request, READING).asked
    writer = w.reply(q(PYLD, "eiCreatedDelivery"), w.response, wd.deliveries)
    reply = writer(w.Answer("r1", "house-7", None), CreatedDelivery((MeteredDelivery(asked, "delivery-1", Decimal("0.5")),), asked.end))
    assert schemas.errors(reply) == []
    assert reply.findtext(f".//{q(EMIX, 'quantity')}") == "0.5"
    reported = w.reply(q(TEMIX, "eiReportedDelivery"), w.response, w.party, wd.reported_counts)(
        w.Answer("r2", "meter-1", None), ReportedDelivery(RecordCounts(1, 2, 3)))
    assert [reported.findtext(q(TEMIX, t)) for t in ("newReadings", "correctedReadings", "unchangedReadings")] == ["1", "2", "3"]


@pytest.mark.parametrize("scale, quantity", [("k", "1E+131072"), ("k", "1E+999999999"), ("M", "1E+17"), ("k", "1E-999999999")])
def test_a_quantity_beyond_the_amount_bounds_is_a_400_naming_the_element_not_a_server_fault(schemas, scale, quantity):
    payload = readme_report()
    payload.find(f".//{q(SCALE, 'siScaleCode')}").text = scale
    payload.find(f".//{q(EMIX, 'quantity')}").text = quantity
    assert schemas.errors(payload) == []
    with pytest.raises(InvalidValueError, match=r"(out of range|significant digits).*quantity \(line \d+\)"):
        wd.report_delivery(payload, READING)
