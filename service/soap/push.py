"""The messages of push: the EiCreateTransaction the exchange sends a party for one fill,
and the reading of the party's answer.

The message is the acceptance of the party's order by the exchange, as any acceptor would
send it: ``ei:partyID`` the exchange (the sender), ``ei:counterPartyID`` the party (whose
tender was accepted), one ``ei:eiTransaction`` with the fill's transactionID, the party's
tenderID and the fill's product as the party sees it (its own side, the fill's rate and
trade price, transactive state ``transaction``). Validated before it is sent; the answer is
read with the service's hardened parser and validated too.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from service.domain.tenders import Side
from service.soap import mapping as m
from service.soap.endpoint import BODY, ENVELOPE, FAULT
from service.soap.faults import SoapFault
from service.soap.ns import EI, NSMAP, PYLD, SOAP11_ENV, q
from service.soap.schema import SchemaSet
from service.soap.stored import SIDE_PATH, stored_products, with_side
from service.soap.xmlparse import parse_document

SOAP_ACTION = "EiCreateTransaction"
CREATED = q(PYLD, "eiCreatedTransaction")


@dataclass(frozen=True)
class Fill:
    """One fill as pushed to one party."""

    request_id: str
    sender_id: str  # the exchange
    party_id: str
    transaction_id: str
    tender_id: str
    party_side: Side
    product_xml: bytes  # the stored product, on any side: shown on ``party_side``


def create_transaction(fill: Fill, schemas: SchemaSet) -> bytes:
    """The SOAP 1.1 envelope of the fill's EiCreateTransaction, schema-valid."""
    product = with_side(stored_products([fill.product_xml], SIDE_PATH)[0], fill.party_side)
    payload = etree.Element(q(PYLD, "eiCreateTransaction"), nsmap=NSMAP)
    payload.extend([
        m.element(q(PYLD, "requestID"), fill.request_id),
        m.element(q(EI, "partyID"), fill.sender_id),
        m.element(q(EI, "counterPartyID"), fill.party_id),
        m.element(q(EI, "eiTransaction"), None,
                  m.element(q(EI, "transactionID"), fill.transaction_id),
                  m.element(q(EI, "tenderID"), fill.tender_id),
                  product),
    ])
    schemas.check_response(payload)  # a message we built that does not validate is our bug
    envelope = etree.Element(ENVELOPE, nsmap={"soap11env": SOAP11_ENV})
    etree.SubElement(envelope, BODY).append(payload)
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


def refusal_in(answer: bytes, request_id: str, schemas: SchemaSet) -> str | None:
    """None if ``answer`` acknowledges the message: a schema-valid eiCreatedTransaction
    with response code 200 for its requestID; else what is wrong with it."""
    try:
        envelope = parse_document(answer)
    except SoapFault as fault:
        return fault.faultstring
    body = envelope.find(BODY) if envelope.tag == ENVELOPE else None
    if body is None or len(body) != 1:
        return "the answer is not a SOAP 1.1 envelope with one Body element"
    payload = body[0]
    if payload.tag == FAULT:
        return f"SOAP Fault {payload.findtext('faultcode')}: {payload.findtext('faultstring')}"
    if payload.tag != CREATED:
        return f"the answer is {payload.tag}, not an eiCreatedTransaction"
    errors = schemas.errors(payload)
    if errors:
        return "schema-invalid eiCreatedTransaction: " + "; ".join(errors[:3])
    response = payload.find(q(EI, "eiResponse"))
    code = response.findtext(q(EI, "responseCode"))
    if code != "200":
        return f"responseCode {code}: {response.findtext(q(EI, 'responseDescription'))}"
    if response.findtext(q(EI, "refID")) != request_id:
        return f"refID {response.findtext(q(EI, 'refID'))!r} is not the requestID {request_id!r}"
    return None
