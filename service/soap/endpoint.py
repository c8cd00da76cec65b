"""The SOAP 1.1 endpoint: envelope in, payload to the pipeline, envelope or Fault out.

Per request: parse with the hardened parser, insist on one Body child this endpoint routes,
refuse header entries marked mustUnderstand that we do not process (SOAP 1.1's processing
model; ``open_envelope``, shared with the spyne stack), validate the payload against the
schemas, hand it with the header entries to ``handle``, and wrap the reply (validated by the
pipeline) in an envelope. Refusals are SOAP 1.1 Faults (HTTP 500)
with a code and a message that says what is wrong and where; anything unexpected is logged
and answered with a bare Server fault.

This replaces spyne on the request path: for this contract spyne only dispatched bare AnyXml
methods (its generated WSDL is not used, see stack-notes), at a cost measured in
bench/README.md. ``service.soap.spyne_app`` keeps the spyne endpoint, the same contract,
selectable with TEMIX_SOAP_STACK=spyne.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Container, Mapping

from lxml import etree

from service.auth.certificates import PLAIN, Transport, transport_of
from service.observe import current
from service.soap.faults import (
    MustUnderstandFault,
    SoapEnvelopeFault,
    SoapFault,
    VersionMismatchFault,
)
from service.soap.ns import SOAP11_ENV, WSSE, q
from service.soap.schema import SchemaSet
from service.soap.xmlparse import parse_document

log = logging.getLogger(__name__)

XML = "text/xml; charset=utf-8"
ENVELOPE, BODY, HEADER, FAULT = (q(SOAP11_ENV, name) for name in ("Envelope", "Body", "Header", "Fault"))
FAULT_PREFIXES = {"wsse": WSSE}  # fault codes qualified by another namespace than SOAP's
MUST_UNDERSTAND, ACTOR = q(SOAP11_ENV, "mustUnderstand"), q(SOAP11_ENV, "actor")
NEXT_ACTOR = "http://schemas.xmlsoap.org/soap/actor/next"  # every node, so us
Handle = Callable[[list | None, etree._Element, Transport], etree._Element]
# header entry tag -> the payload tags it is understood with (None: every one)
Understood = Mapping[str, Container[str] | None]


def envelope_of(reply: etree._Element) -> bytes:
    envelope = etree.Element(ENVELOPE, nsmap={"soap11env": SOAP11_ENV})
    etree.SubElement(envelope, BODY).append(reply)
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


def fault_envelope(fault: SoapFault) -> bytes:
    """faultcode ``soap11env:Client.X``, or ``wsse:FailedAuthentication`` as WS-Security says."""
    prefix, _, _ = fault.faultcode.rpartition(":")
    code = fault.faultcode if prefix else f"soap11env:{fault.faultcode}"
    nsmap = {"soap11env": SOAP11_ENV}
    if prefix in FAULT_PREFIXES:
        nsmap[prefix] = FAULT_PREFIXES[prefix]
    envelope = etree.Element(ENVELOPE, nsmap=nsmap)
    element = etree.SubElement(etree.SubElement(envelope, BODY), FAULT)
    etree.SubElement(element, "faultcode").text = code
    etree.SubElement(element, "faultstring").text = fault.faultstring
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


class ServerFault(SoapFault):
    faultcode = "Server"


class SoapEndpoint:
    """The WSGI app of one endpoint (EiTender, EiTransaction)."""

    def __init__(self, routes: set[str], schemas: SchemaSet, handle: Handle, understood: Understood):
        self.routes = routes  # the payload tags this endpoint takes
        self.schemas = schemas
        self.handle = handle
        self.understood = understood

    def __call__(self, environ, start_response):
        try:
            reply = self.answer(environ["wsgi.input"].read(), transport_of(environ))
            status, body = "200 OK", envelope_of(reply)
        except SoapFault as fault:
            log.log(fault.log_level, "%s", fault.log_line())
            current().fault = fault.faultcode
            status, body = "500 Internal Server Error", fault_envelope(fault)
        except Exception:
            log.exception("request failed")  # the traceback stays in our log, never in the reply
            fault = ServerFault("Internal error: the request was not applied")
            current().fault = fault.faultcode
            status, body = "500 Internal Server Error", fault_envelope(fault)
        start_response(status, [("Content-Type", XML), ("Content-Length", str(len(body)))])
        return [body]

    def answer(self, data: bytes, transport: Transport = PLAIN) -> etree._Element:
        header, payload = open_envelope(parse_document(data), self.routes, self.understood)
        self.schemas.check_request(payload)
        return self.handle(header, payload, transport)


def open_envelope(
    envelope: etree._Element, routes: Container[str], understood: Understood
) -> tuple[list | None, etree._Element]:
    """(the header entries or None, the Body's one payload element, which ``routes`` takes)."""
    if envelope.tag != ENVELOPE:
        got = f"got {envelope.tag}"
        if etree.QName(envelope).localname == "Envelope":  # e.g. SOAP 1.2's namespace
            raise VersionMismatchFault(f"This endpoint speaks SOAP 1.1 ({SOAP11_ENV}): {got}")
        raise SoapEnvelopeFault(f"Expected a SOAP 1.1 Envelope ({SOAP11_ENV}), {got}")
    body = envelope.find(BODY)
    if body is None or len(body) != 1:
        raise SoapEnvelopeFault("The SOAP Body must hold exactly one payload element")
    payload = body[0]
    current().payload_tag = payload.tag
    if payload.tag not in routes:
        raise SoapEnvelopeFault(f"This endpoint has no operation for {payload.tag}")
    header = envelope.find(HEADER)
    if header is None:
        return None, payload
    check_must_understand(header, payload.tag, understood)
    return list(header), payload


def check_must_understand(header: etree._Element, payload_tag: str, understood: Understood) -> None:
    """Refuse a header entry addressed to us, marked mustUnderstand, that we do not process
    for this payload (a WS-Addressing header, or the distribution scope on another operation)."""
    for entry in header:
        if entry.get(MUST_UNDERSTAND) not in ("1", "true") or entry.get(ACTOR, NEXT_ACTOR) != NEXT_ACTOR:
            continue
        if entry.tag in understood and (understood[entry.tag] is None or payload_tag in understood[entry.tag]):
            continue
        raise MustUnderstandFault(
            f"Header {entry.tag} (line {entry.sourceline}) is marked soap:mustUnderstand and this service "
            f"does not process it with {etree.QName(payload_tag).localname}"
        )


def soap_endpoint(
    endpoint: str, operations: dict[str, str], schemas: SchemaSet, handle: Handle, understood: Understood
) -> SoapEndpoint:
    """A WSGI app for one endpoint. ``operations`` maps payload tag -> operation name;
    ``understood`` says which header entries are processed with which payloads."""
    return SoapEndpoint(set(operations), schemas, handle, understood)
