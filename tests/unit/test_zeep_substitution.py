"""SubstitutionPlugin: zeep, in strict mode, writes and reads the CTS substitution groups.

The WSDLs are loaded from the checkout's files (no server); requests are validated with the
service's own SchemaSet, replies are parsed by zeep's deserialisation of the operation's output.
"""

from __future__ import annotations

import copy
from decimal import Decimal
from pathlib import Path

import pytest
import zeep
from lxml import etree
from zeep.exceptions import XMLParseError

from tests.support import zeep_products
from service.client import SubstitutionPlugin, substitute
from service.client.zeep_substitution import SUBSTITUTION_GROUPS, clark
from service.config import SCHEMA_DIR
from service.soap.ns import EI, EMIX, POWER, PYLD, SOAP11_ENV, STRM, q
from service.soap.schema import SchemaSet

XS = "http://www.w3.org/2001/XMLSchema"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
CTX = "http://market.example.com/temix/ctx1"
EXAMPLES = SCHEMA_DIR / "oasis" / "examples"


def zeep_client(wsdl: str, *plugins) -> zeep.Client:
    return zeep.Client(str(SCHEMA_DIR / wsdl), settings=zeep.Settings(strict=True), plugins=list(plugins))


@pytest.fixture(scope="module")
def tender_client() -> zeep.Client:
    return zeep_client("EiTender.wsdl", SubstitutionPlugin())


@pytest.fixture(scope="module")
def transaction_client() -> zeep.Client:
    return zeep_client("EiTransaction.wsdl", SubstitutionPlugin())


@pytest.fixture(scope="module")
def schemas() -> SchemaSet:
    return SchemaSet(SCHEMA_DIR)


power_product = zeep_products.power_product


def payload_of(envelope: etree._Element) -> etree._Element:
    return envelope.find(q(SOAP11_ENV, "Body"))[0]


def create_tender(client, interface) -> etree._Element:
    envelope = client.create_message(
        client.service,
        "EiCreateTender",
        requestID="req-1",
        partyID="party-A",
        counterPartyID="party-B",
        eiTender=[{"tenderID": "tender-1", "emixBase": power_product(client, interface)}],
    )
    return payload_of(envelope)


# --- the table is the schemas' ------------------------------------------------------------


def substitution_groups_of(schema_files: list[Path]) -> dict[str, tuple[str, str | None]]:
    """Every global element declaring a substitutionGroup whose type (its own, else its
    head's) is a named complexType: member -> (head, type, or None if abstract); Clark names."""
    declared, complex_types = {}, set()
    for path in schema_files:
        root = etree.parse(str(path)).getroot()
        tns = root.get("targetNamespace")

        def qualified(node, value):
            prefix, _, local = value.rpartition(":")
            return f"{{{node.nsmap[prefix or None]}}}{local}" if value else None

        complex_types.update(f"{{{tns}}}{t.get('name')}" for t in root.iterfind(f"{{{XS}}}complexType"))
        for element in root.iterfind(f"{{{XS}}}element"):
            declared[f"{{{tns}}}{element.get('name')}"] = (
                qualified(element, element.get("substitutionGroup", "")),
                qualified(element, element.get("type", "")),
                element.get("abstract") == "true",
            )
    groups = {}
    for member, (head, type_name, abstract) in declared.items():
        link = head
        while type_name is None and link is not None:
            link, type_name, _ = declared[link]
        if head is not None and type_name in complex_types:
            groups[member] = (head, None if abstract else type_name)
    return groups


def test_the_substitution_table_is_the_one_the_xsds_declare():
    files = sorted((SCHEMA_DIR / "oasis" / "cts-xsd").glob("*.xsd")) + [SCHEMA_DIR / "temix-ext.xsd"]
    from_xsds = substitution_groups_of(files)
    transcribed = {clark(m): (clark(h), clark(t) if t else None) for m, (h, t) in SUBSTITUTION_GROUPS.items()}
    assert transcribed == from_xsds
    assert q(POWER, "temixPower") in from_xsds and q(EMIX, "product") in from_xsds


def test_a_head_and_an_xsi_type_name_one_member_at_most():
    pairs = [
        (head, type_name)
        for member, (head, type_name) in SUBSTITUTION_GROUPS.items()
        if type_name is not None
    ]
    assert len(pairs) == len(set(pairs))


# --- egress: requests validate ------------------------------------------------------------


def test_without_the_plugin_zeep_writes_the_abstract_head_and_the_request_is_invalid(schemas):
    client = zeep_client("EiTender.wsdl")
    payload = create_tender(client, substitute(client, "power:pnode", node="NODE-1"))
    assert payload.find(f".//{q(EMIX, 'emixBase')}") is not None
    assert schemas.errors(payload)


def test_a_tender_for_power_at_one_node_validates(tender_client, schemas):
    payload = create_tender(tender_client, substitute(tender_client, "power:pnode", node="NODE-1"))

    assert schemas.errors(payload) == []
    power = payload.find(f"{q(EI, 'eiTender')}/{q(EMIX, 'product')}/{q(POWER, 'temixPower')}")
    assert power.findtext(f"{q(POWER, 'pnode')}/{q(POWER, 'node')}") == "NODE-1"
    assert power.find(q(POWER, "powerReal")) is not None
    assert power.find(q(EMIX, "price")) is not None  # named by TemixPowerType itself
    assert not [node for node in payload.iter() if node.get(XSI_TYPE)]


def test_a_transport_tender_validates(tender_client, schemas):
    interface = substitute(
        tender_client, "power:transportInterface", pointOfReceipt="NODE-1", pointOfDelivery="NODE-2"
    )
    payload = create_tender(tender_client, interface)

    assert schemas.errors(payload) == []
    transport = payload.find(f".//{q(POWER, 'temixPower')}/{q(POWER, 'transportInterface')}")
    assert transport.findtext(q(POWER, "pointOfReceipt")) == "NODE-1"
    assert transport.findtext(q(POWER, "pointOfDelivery")) == "NODE-2"


def test_a_transaction_validates(transaction_client, schemas):
    client = transaction_client
    interface = substitute(client, "power:pnode", node="NODE-1")
    product = power_product(client, interface, side="sell", state="transaction", quantity="4")
    envelope = client.create_message(
        client.service,
        "EiCreateTransaction",
        requestID="req-2",
        partyID="party-B",
        counterPartyID="party-A",
        eiTransaction=[{"transactionID": "txn-1", "tenderID": "tender-1", "emixBase": product}],
    )
    payload = payload_of(envelope)

    assert schemas.errors(payload) == []
    assert payload.findtext(f".//{q(EMIX, 'product')}/{q(EMIX, 'side')}") == "sell"


def test_substitute_refuses_an_abstract_member(tender_client):
    with pytest.raises(ValueError, match="abstract"):
        substitute(tender_client, "emix:productDescription")


# --- ingress: replies parse into the derived types ----------------------------------------


def reply_tender_envelope(tender: etree._Element) -> etree._Element:
    """An eiReplyTender holding ``tender``, in a SOAP 1.1 envelope (as the server sends it)."""
    envelope = etree.Element(q(SOAP11_ENV, "Envelope"))
    reply = etree.SubElement(etree.SubElement(envelope, q(SOAP11_ENV, "Body")), q(PYLD, "eiReplyTender"))
    response = etree.SubElement(reply, q(EI, "eiResponse"))
    for name, value in (("responseCode", "200"), ("responseDescription", "OK"), ("refID", "req-9")):
        etree.SubElement(response, q(EI, name)).text = value
    reply.append(copy.deepcopy(tender))
    return etree.fromstring(etree.tostring(envelope))


@pytest.fixture
def example_tender() -> etree._Element:
    """The ei:eiTender of the OASIS example request: buy 10 kW from NODE-1 to NODE-2 at 0.05."""
    return etree.parse(str(EXAMPLES / "eiCreateTender-minimal.xml")).getroot().find(q(EI, "eiTender"))


def read_reply_tender(client, envelope: etree._Element):
    """The client's plugins, then zeep's deserialisation of EiRequestTender's output."""
    operation = client.service._binding._operations["EiRequestTender"]
    for plugin in client.plugins:
        envelope, _ = plugin.ingress(envelope, {}, operation)
    return operation.process_reply(envelope)


def test_without_the_plugin_zeep_cannot_read_a_reply_holding_a_product(example_tender):
    client = zeep_client("EiTender.wsdl")
    with pytest.raises(XMLParseError, match="Unexpected element .*product"):
        read_reply_tender(client, reply_tender_envelope(example_tender))


def test_a_reply_tender_reads_into_typed_objects(tender_client, example_tender):
    reply = read_reply_tender(tender_client, reply_tender_envelope(example_tender))

    assert reply.eiResponse.responseCode == "200"
    (tender,) = reply.eiTender
    assert tender.tenderID == "tender-0001"
    product = tender.emixBase
    assert type(product).__name__ == "ProductType"
    assert (product.side, product.currency, product.marketContext) == ("buy", "USD", CTX)
    power = product.streamPayloadBase
    assert type(power).__name__ == "TemixPowerType"
    assert power.price.value == Decimal("0.05")
    assert power.quantity == 10
    assert type(power.emixInterface).__name__ == "TransportInterfaceType"
    assert (power.emixInterface.pointOfReceipt, power.emixInterface.pointOfDelivery) == ("NODE-1", "NODE-2")
    assert type(power.powerItem).__name__ == "PowerRealType"
    assert power.powerItem.siScaleCode == "k"


def test_ingress_renames_only_where_the_parent_names_the_head(tender_client, example_tender):
    envelope = reply_tender_envelope(example_tender)
    operation = tender_client.service._binding._operations["EiRequestTender"]
    SubstitutionPlugin().ingress(envelope, {}, operation)

    tender = payload_of(envelope).find(q(EI, "eiTender"))
    product = tender.find(q(EMIX, "emixBase"))
    assert product.get(XSI_TYPE).endswith(":ProductType")
    power = product.find(q(STRM, "streamPayloadBase"))
    assert power.get(XSI_TYPE).endswith(":TemixPowerType")
    # TemixPowerType names emix:price itself: it stays, though price is in priceBase's group.
    assert power.find(q(EMIX, "price")) is not None
    assert power.find(q(EMIX, "priceBase")) is None
    assert power.find(q(EMIX, "emixInterface")) is not None
    assert power.find(q(POWER, "powerItem")) is not None
    # ei:tenderID stays too: EiTenderType names it (its group, ei:refID, is simple-typed).
    assert tender.findtext(q(EI, "tenderID")) == "tender-0001"


def test_a_reply_written_with_default_namespaces_reads_the_same(tender_client, example_tender):
    # No prefixes at all: the xsi:type must then be written unprefixed (lxml 6.1 crashes
    # resolving a QName value whose namespace is only the default one).
    text = _with_default_namespaces(reply_tender_envelope(example_tender))
    assert b"<emix:" not in text and b"<product " in text

    reply = read_reply_tender(tender_client, etree.fromstring(text))

    power = reply.eiTender[0].emixBase.streamPayloadBase
    assert power.emixInterface.pointOfReceipt == "NODE-1"
    assert power.price.value == Decimal("0.05")


def _with_default_namespaces(root: etree._Element) -> bytes:
    """``root`` re-serialised with each element declaring its namespace as the default."""

    def rebuilt(node):
        new = etree.Element(node.tag, nsmap={None: etree.QName(node).namespace})
        new.text = node.text
        for child in node.iterchildren(etree.Element):
            new.append(rebuilt(child))
            new[-1].tail = child.tail
        return new

    return etree.tostring(rebuilt(root))
