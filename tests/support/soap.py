"""Calling the service: in-process through its WSGI app, or over HTTP, the same way."""

from __future__ import annotations

import io
from dataclasses import dataclass

from lxml import etree

from service.soap.ns import EI, SOAP11_ENV, q
from tests.support import messages


@dataclass
class Reply:
    status: int
    body: bytes

    @property
    def root(self) -> etree._Element:
        return etree.fromstring(self.body)

    @property
    def payload(self) -> etree._Element:
        return self.root.find(q(SOAP11_ENV, "Body"))[0]

    @property
    def is_fault(self) -> bool:
        return self.payload.tag == q(SOAP11_ENV, "Fault")

    @property
    def faultcode(self) -> str:
        return self.payload.findtext("faultcode")

    @property
    def faultstring(self) -> str:
        return self.payload.findtext("faultstring")

    @property
    def code(self) -> str:
        return self.payload.findtext(f".//{q(EI, 'responseCode')}")

    @property
    def description(self) -> str:
        return self.payload.findtext(f".//{q(EI, 'responseDescription')}")


_xmlschema = None


def independent_schema():
    """The schemas compiled by xmlschema: a second implementation to check our replies with."""
    global _xmlschema
    if _xmlschema is None:
        import xmlschema

        from service.config import SCHEMA_DIR

        _xmlschema = xmlschema.XMLSchema(str(SCHEMA_DIR / "temix-ext.xsd"), allow="local")
    return _xmlschema


def check_reply(reply: Reply) -> Reply:
    """Every reply is a SOAP 1.1 envelope; a non-fault payload must validate (xmlschema)."""
    assert reply.root.tag == q(SOAP11_ENV, "Envelope"), reply.body[:300]
    if reply.is_fault:
        assert reply.status in (400, 413, 500), reply.status
        assert reply.faultcode and reply.faultstring
    else:
        assert reply.status == 200, reply.body[:300]
        independent_schema().validate(reply.payload)
    return reply


class InProcessClient:
    """POSTs envelopes to a WSGI app; ``passwords`` maps party -> password."""

    def __init__(self, app, passwords: dict[str, str]):
        self.app = app
        self.passwords = passwords

    def raw(self, path: str, data: bytes, method: str = "POST", query: str = "") -> Reply:
        environ = {
            "REQUEST_METHOD": method,
            "CONTENT_TYPE": "text/xml; charset=utf-8",
            "CONTENT_LENGTH": str(len(data)),
            "wsgi.input": io.BytesIO(data),
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "SERVER_NAME": "localhost",
            "SERVER_PORT": "8080",
            "HTTP_HOST": "localhost:8080",
            "wsgi.url_scheme": "http",
        }
        status = []
        body = b"".join(self.app(environ, lambda s, headers: status.append(s)))
        reply = Reply(int(status[0].split()[0]), body)
        return check_reply(reply) if method == "POST" else reply

    def call(self, path: str, payload, as_party: str | None = None, digest: bool = False, headers=()) -> Reply:
        """``headers``: SOAP header entries besides wsse:Security (e.g. messages.distribution_scope())."""
        party = as_party or payload.findtext(q(EI, "partyID"))
        token = messages.username_token(party, self.passwords[party], digest=digest)
        return self.raw(path, messages.envelope(payload, token, headers))
