"""The HTTP front: routes POSTs to the SOAP endpoints, serves the WSDLs and the schemas.

The body size is bounded here, before anything parses it. WSDLs are served with their
soap:address set to the public URL, or to the address they were fetched from if the Host
header is a valid host[:port] (service/soap/address.py); their schemaLocations are relative,
so the XSDs are served at the same relative paths (whitelisted: *.xsd only), each with the
charset its XML declaration names (two CTS files are ISO-8859-1).
``GET /health`` says the process answers (liveness); ``GET /ready`` also asks the database
(readiness: 503 while it is unavailable); ``GET /metrics`` is the Prometheus text.

Each POST opens the request's account (``service.observe``) and hands it, with the time from
the body in hand to the answer, to ``observe`` (metrics, the request log line).
"""

from __future__ import annotations

import io
import logging
import re
import time
from collections.abc import Callable
from pathlib import Path

from lxml import etree

from service.observe import Exchange, closed, current, opened
from service.soap.address import endpoint_base, wsdl_with_address
from service.soap.endpoint import XML, fault_envelope
from service.soap.faults import RequestTooLargeFault

# The encoding pseudo-attribute of an XML declaration (XML 1.0 section 4.3.3, EncName).
_DECLARED_ENCODING = re.compile(rb"""<\?xml[^>]*?\sencoding\s*=\s*["']([A-Za-z][A-Za-z0-9._-]*)["']""")


def xml_content_type(document: bytes) -> str:
    """text/xml with the charset of the document's XML declaration (UTF-8 without one), so a
    client that trusts the HTTP header over the declaration (RFC 7303) decodes it right."""
    found = _DECLARED_ENCODING.match(document)
    charset = found.group(1).decode("ascii").lower() if found else "utf-8"
    return f"text/xml; charset={charset}"


log = logging.getLogger(__name__)


class SoapFront:
    def __init__(
        self,
        schema_dir: Path,
        endpoints: dict[str, object],
        max_body_bytes: int,
        *,
        database_ready: Callable[[], bool] = lambda: True,
        public_url: str | None = None,
        bind_url: str = "http://127.0.0.1:8080",
        observe: Callable[[Exchange, float], None] | None = None,
        metrics: Callable[[], tuple[bytes, str]] | None = None,
    ):
        self.database_ready = database_ready  # for /ready; /health is the process alone
        self.observe = observe
        self.metrics = metrics  # () -> (the Prometheus text, its content type)
        self.schema_dir = Path(schema_dir).resolve()
        self.endpoints = endpoints  # "EiTender" -> WSGI app
        self.max_body_bytes = max_body_bytes
        self.public_url = public_url
        self.bind_url = bind_url
        self.wsdls = {name: etree.parse(str(self.schema_dir / f"{name}.wsdl")) for name in endpoints}
        self.schema_files = {  # path -> (document, its content type)
            "/" + path.relative_to(self.schema_dir).as_posix(): (data, xml_content_type(data))
            for path in self.schema_dir.rglob("*.xsd")
            for data in (path.read_bytes(),)
        }

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "") or "/"
        method = environ.get("REQUEST_METHOD", "GET")
        endpoint = self.endpoints.get(path.strip("/"))
        if endpoint is not None and method == "POST":
            return self._post(endpoint, environ, start_response)
        if method in ("GET", "HEAD"):
            if endpoint is not None and environ.get("QUERY_STRING", "").lower().startswith("wsdl"):
                return self._wsdl(path.strip("/"), environ, start_response)
            if path in self.schema_files:
                return self._send(start_response, "200 OK", *self.schema_files[path])
            if path == "/health":
                return self._send(start_response, "200 OK", b"ok\n", "text/plain")
            if path == "/ready":
                if self.database_ready():
                    return self._send(start_response, "200 OK", b"ready\n", "text/plain")
                return self._send(start_response, "503 Service Unavailable", b"database unavailable\n", "text/plain")
            if path == "/metrics" and self.metrics is not None:
                return self._send(start_response, "200 OK", *self.metrics())
        if endpoint is not None:
            return self._send(start_response, "405 Method Not Allowed", b"POST a SOAP envelope, or GET ?wsdl\n", "text/plain")
        return self._send(start_response, "404 Not Found", b"not found\n", "text/plain")

    def _post(self, endpoint, environ, start_response):
        if self.observe is None:
            return self._answer(endpoint, environ, start_response)
        exchange = Exchange(environ.get("PATH_INFO", "").strip("/"))
        token = opened(exchange)
        started = time.perf_counter()
        try:
            return self._answer(endpoint, environ, start_response)  # the endpoints answer in full here
        finally:
            closed(token)
            try:
                self.observe(exchange, time.perf_counter() - started)
            except Exception:  # a metric or log line lost never costs the client its answer
                log.exception("could not record the request's metrics or log line")

    def _answer(self, endpoint, environ, start_response):
        try:
            declared = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        limit = self.max_body_bytes
        too_large = RequestTooLargeFault(f"The request body exceeds the limit of {limit} bytes")
        if declared > limit:
            too_large_seen()
            return self._send(start_response, "413 Request Entity Too Large", fault_envelope(too_large), XML)
        body = environ["wsgi.input"].read(min(declared, limit + 1) if declared else limit + 1)
        if len(body) > limit:
            too_large_seen()
            return self._send(start_response, "413 Request Entity Too Large", fault_envelope(too_large), XML)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.setdefault("CONTENT_TYPE", XML)
        return endpoint(environ, start_response)

    def _wsdl(self, name, environ, start_response):
        location = f"{endpoint_base(environ, self.public_url, self.bind_url)}/{name}"
        return self._send(start_response, "200 OK", wsdl_with_address(self.wsdls[name], location), XML)

    @staticmethod
    def _send(start_response, status, body: bytes, content_type: str):
        start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
        return [body]


def too_large_seen() -> None:
    current().fault = RequestTooLargeFault.faultcode
