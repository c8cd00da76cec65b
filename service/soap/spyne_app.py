"""spyne, behind one small function: ``soap_endpoint(endpoint, operations, schemas, handle, understood)``.

spyne does the SOAP 1.1 envelope and fault plumbing and dispatches on the Body's payload
element; the methods are bare AnyXml ones that hand the whole payload element to ``handle``.
Our protocol subclass replaces spyne's parser with the hardened one, insists on exactly one
Body child, validates it against the schemas before anything runs, and routes elements of
our extension namespace too. The published WSDL is ours (schemas/*.wsdl), never spyne's.
To replace spyne, reimplement this module's one function.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from lxml import etree
import spyne.const
from spyne import AnyXml, Application, Fault, ServiceBase, rpc
from spyne.protocol.soap import Soap11
from spyne.server.wsgi import WsgiApplication

from service.auth.certificates import transport_of
from service.observe import current
from service.soap.endpoint import open_envelope
from service.soap.faults import SoapEnvelopeFault, SoapFault
from service.soap.ns import PYLD, q
from service.soap.schema import SchemaSet
from service.soap.xmlparse import parse_document

log = logging.getLogger(__name__)


def no_forced_gc() -> None:
    """spyne runs a full gc.collect() after a request whenever a second has passed since the
    last (to close file descriptors of attachments, which we never take): tens of ms, in the
    middle of serving. Python's own generational collector is enough."""
    spyne.const.MIN_GC_INTERVAL = float("inf")


def quiet_spyne_logs() -> None:
    """spyne logs a whole request body at ERROR on a syntax error, and every client fault
    with a traceback: we log one line per refusal ourselves (``as_spyne_fault``) instead.
    Its log of unexpected server errors stays."""
    logging.getLogger("spyne.protocol.soap.soap11.invalid").setLevel(logging.CRITICAL)
    logging.getLogger("spyne.application").setLevel(logging.CRITICAL)
    logging.getLogger("spyne.application.server").setLevel(logging.ERROR)

Handle = Callable[[list | None, etree._Element], etree._Element]


def as_spyne_fault(fault: SoapFault) -> Fault:
    log.log(fault.log_level, "%s", fault.log_line())
    current().fault = fault.faultcode
    return Fault(faultcode=fault.faultcode, faultstring=fault.faultstring)


class HardenedSoap11(Soap11):
    """SOAP 1.1 with our parser, one-child Body rule, schema validation and routing."""

    def __init__(self, schemas: SchemaSet, routes: dict[str, str], understood):
        super().__init__(cleanup_namespaces=True)
        self.schemas = schemas
        self.routes = routes  # payload tag -> spyne method key
        self.understood = understood

    def create_in_document(self, ctx, charset=None):
        try:
            if ctx.transport.get_request_method() != "POST":
                raise SoapEnvelopeFault("A SOAP request is an HTTP POST")
            ctx.in_document = parse_document(b"".join(ctx.in_string))
        except SoapFault as fault:
            raise as_spyne_fault(fault) from None

    def decompose_incoming_envelope(self, ctx, message=Soap11.REQUEST):
        try:
            header, payload = open_envelope(ctx.in_document, self.routes, self.understood)
            self.schemas.check_request(payload)
        except SoapFault as fault:
            raise as_spyne_fault(fault) from None
        ctx.in_header_doc = header
        ctx.in_body_doc = payload
        ctx.method_request_string = self.routes[payload.tag]


def _method(name: str, handle: Handle):
    def method(ctx, payload):
        try:
            ctx.udc = handle(ctx.in_header_doc, ctx.in_body_doc, transport_of(ctx.transport.req_env))
        except SoapFault as fault:
            raise as_spyne_fault(fault) from None
        except Exception:
            log.exception("%s failed", name)  # the traceback stays in our log, never in the reply
            current().fault = "Server"
            raise Fault("Server", "Internal error: the request was not applied") from None

    method.__name__ = method.__qualname__ = name  # spyne keys methods by function name
    return rpc(AnyXml, _body_style="bare", _returns=AnyXml, _in_message_name=name)(method)


def _put_reply(ctx) -> None:
    """Replace spyne's wrapper with our reply element as the Body's only child."""
    body = ctx.out_body_doc
    for child in list(body):
        body.remove(child)
    body.append(ctx.udc)


def soap_endpoint(endpoint: str, operations: dict[str, str], schemas: SchemaSet, handle: Handle, understood):
    """A WSGI app for one endpoint. ``operations`` maps payload tag -> operation name."""
    quiet_spyne_logs()
    no_forced_gc()
    routes = {tag: q(PYLD, etree.QName(tag).localname) for tag in operations}
    methods = {etree.QName(tag).localname: _method(etree.QName(tag).localname, handle) for tag in operations}
    service = type(f"{endpoint}Service", (ServiceBase,), methods)
    protocol = HardenedSoap11(schemas, routes, understood)
    app = Application([service], tns=PYLD, name=endpoint, in_protocol=protocol, out_protocol=Soap11())
    app.event_manager.add_listener("method_return_document", _put_reply)
    return WsgiApplication(app)
