"""A party's own EiTransaction endpoint, for tests of push: a small WSGI app served over real
HTTP in a thread, that parses each EiCreateTransaction envelope, validates its payload with
the independent validator (xmlschema), keeps it, and answers a valid eiCreatedTransaction.

It is idempotent as a receiver should be: a redelivery (a requestID it has answered) gets the
same answer again and is counted in ``redelivered``, not kept twice. ``down = True`` makes it
answer 503 without a SOAP body, as an endpoint that is not up would.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from lxml import etree

from service.soap.ns import EI, EMIX, NSMAP, PYLD, SOAP11_ENV, q
from tests.support.soap import independent_schema

ENVELOPE, BODY = q(SOAP11_ENV, "Envelope"), q(SOAP11_ENV, "Body")


@dataclass(frozen=True)
class Received:
    request_id: str
    sender_id: str  # ei:partyID: the exchange
    party_id: str  # ei:counterPartyID: the party whose order filled
    transaction_id: str
    tender_id: str
    side: str
    quantity: str
    price: str
    envelope: bytes


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args) -> None:
        pass


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class Receiver:
    def __init__(self):
        self.received: list[Received] = []
        self.redelivered: list[str] = []
        self.invalid: list[str] = []  # what was wrong with messages that did not validate
        self.down = False
        self._answers: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self.url = ""

    def requests_of(self, party_id: str) -> list[str]:
        with self._lock:
            return [r.request_id for r in self.received if r.party_id == party_id]

    def __call__(self, environ, start_response):
        if self.down:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"down"]
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        try:
            received = self._read(body)
        except (AssertionError, etree.XMLSyntaxError, Exception) as error:  # noqa: BLE001 - said in the fault
            with self._lock:
                self.invalid.append(str(error))
            fault = (
                f'<s:Envelope xmlns:s="{SOAP11_ENV}"><s:Body><s:Fault><faultcode>s:Client</faultcode>'
                f"<faultstring>invalid</faultstring></s:Fault></s:Body></s:Envelope>"
            ).encode()
            start_response("500 Internal Server Error", [("Content-Type", "text/xml")])
            return [fault]
        with self._lock:
            answer = self._answers.get(received.request_id)
            if answer is None:
                answer = self._answers[received.request_id] = _created(received)
                self.received.append(received)
            else:
                self.redelivered.append(received.request_id)
        start_response("200 OK", [("Content-Type", "text/xml; charset=utf-8"), ("Content-Length", str(len(answer)))])
        return [answer]

    @staticmethod
    def _read(body: bytes) -> Received:
        envelope = etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))
        assert envelope.tag == ENVELOPE, envelope.tag
        (payload,) = envelope.find(BODY)
        assert payload.tag == q(PYLD, "eiCreateTransaction"), payload.tag
        independent_schema().validate(payload)  # raises, naming what is wrong
        (item,) = payload.findall(q(EI, "eiTransaction"))
        return Received(
            request_id=payload.findtext(q(PYLD, "requestID")),
            sender_id=payload.findtext(q(EI, "partyID")),
            party_id=payload.findtext(q(EI, "counterPartyID")),
            transaction_id=item.findtext(q(EI, "transactionID")),
            tender_id=item.findtext(q(EI, "tenderID")),
            side=item.findtext(f".//{q(EMIX, 'side')}"),
            quantity=item.findtext(f".//{q(EMIX, 'quantity')}"),
            price=item.findtext(f".//{q(EMIX, 'price')}/{q(EMIX, 'value')}"),
            envelope=body,
        )


def _created(received: Received) -> bytes:
    """The eiCreatedTransaction a party answers (checked valid too)."""
    reply = etree.Element(q(PYLD, "eiCreatedTransaction"), nsmap=NSMAP)
    for tag, value in ((q(EI, "counterPartyID"), received.party_id), (q(EI, "partyID"), received.sender_id)):
        etree.SubElement(reply, tag).text = value
    response = etree.SubElement(reply, q(EI, "eiResponse"))
    for tag, value in (("responseCode", "200"), ("responseDescription", "OK"), ("refID", received.request_id)):
        etree.SubElement(response, q(EI, tag)).text = value
    etree.SubElement(reply, q(EI, "transactionID")).text = received.transaction_id
    independent_schema().validate(reply)
    envelope = etree.Element(ENVELOPE, nsmap={"s": SOAP11_ENV})
    etree.SubElement(envelope, BODY).append(reply)
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    """A Receiver listening on a free loopback port (``receiver.url``) until the block ends."""
    receiver = Receiver()
    server = make_server("127.0.0.1", 0, receiver, server_class=_ThreadingServer, handler_class=_Quiet)
    receiver.url = f"http://127.0.0.1:{server.server_port}/EiTransaction"
    thread = threading.Thread(target=server.serve_forever, name="receiver", daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
