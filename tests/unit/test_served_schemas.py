"""Issue 13, "for all of it": what clients load. Every served WSDL declares the CTS prefixes on
wsdl:definitions (node-soap copies them onto its Envelope and then writes ei:, emix:, ...
inside its Body), and every served XSD comes with the charset its XML declaration names.
The endpoints come from the operation table, so a new endpoint is covered without a new test."""

from __future__ import annotations

import io
from urllib.parse import urljoin, urlsplit

import pytest
from lxml import etree

from service import pipeline
from service.config import SCHEMA_DIR
from service.soap.ns import EI, EMIX, MIN, POWER, SCALE, STRM
from service.soap.wsgi import SoapFront, xml_content_type

CTS_PREFIXES = {"ei": EI, "emix": EMIX, "power": POWER, "scale": SCALE, "min": MIN, "strm": STRM}
XSD = "http://www.w3.org/2001/XMLSchema"


def not_for_get_requests(environ, start_response):
    raise AssertionError("a GET reached a SOAP endpoint")


@pytest.fixture(scope="module")
def front() -> SoapFront:
    endpoints = {name: not_for_get_requests for name in pipeline.ENDPOINTS}
    return SoapFront(SCHEMA_DIR, endpoints, 2 * 1024 * 1024, bind_url="http://127.0.0.1:8080")


def get(front: SoapFront, path: str, query: str = "") -> tuple[str, dict[str, str], bytes]:
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query, "wsgi.url_scheme": "http",
               "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8080", "HTTP_HOST": "127.0.0.1:8080",
               "wsgi.input": io.BytesIO(b"")}
    answered = []
    body = b"".join(front(environ, lambda status, headers: answered.append((status, dict(headers)))))
    return answered[0][0], answered[0][1], body


def charset_of(content_type: str) -> str:
    media_type, _, parameter = content_type.partition(";")
    name, _, value = parameter.strip().partition("=")
    assert media_type == "text/xml" and name == "charset", content_type
    return value.lower()


def declared_encoding(document: bytes) -> str:
    return (etree.fromstring(document).getroottree().docinfo.encoding or "utf-8").lower()


@pytest.mark.parametrize("endpoint", pipeline.ENDPOINTS)
def test_every_served_wsdl_declares_the_cts_prefixes_on_its_definitions(front, endpoint):
    status, _, body = get(front, f"/{endpoint}", "wsdl")
    assert status.startswith("200")
    declared = etree.fromstring(body).nsmap
    assert {prefix: declared.get(prefix) for prefix in CTS_PREFIXES} == CTS_PREFIXES


def test_the_served_wsdls_are_those_of_the_operation_table():
    assert set(pipeline.ENDPOINTS) >= {"EiTender", "EiTransaction", "EiMarketContext"}
    assert sorted(path.stem for path in SCHEMA_DIR.glob("*.wsdl")) == sorted(pipeline.ENDPOINTS)


def schemas_a_client_loads(front: SoapFront) -> dict[str, bytes]:
    """Every XSD reached from the served WSDLs through imports and includes, by path, with
    the Content-Type each was served with."""
    found: dict[str, tuple[str, bytes]] = {}
    pending = []
    for endpoint in pipeline.ENDPOINTS:
        wsdl = etree.fromstring(get(front, f"/{endpoint}", "wsdl")[2])
        pending += [urljoin(f"/{endpoint}", ref.get("schemaLocation")) for ref in wsdl.iter(f"{{{XSD}}}import")]
    while pending:
        path = urlsplit(pending.pop()).path
        if path in found:
            continue
        status, headers, body = get(front, path)
        assert status.startswith("200"), path
        found[path] = (headers["Content-Type"], body)
        for ref in etree.fromstring(body).iter(f"{{{XSD}}}import", f"{{{XSD}}}include"):
            if ref.get("schemaLocation"):
                pending.append(urljoin(path, ref.get("schemaLocation")))
    return found


def test_every_xsd_a_client_loads_is_served_with_the_charset_of_its_xml_declaration(front):
    loaded = schemas_a_client_loads(front)
    assert {"/oasis/cts-xsd/EIClasses.xsd", "/oasis/cts-xsd/EiPayloads.xsd", "/temix-ext.xsd"} <= set(loaded)
    for path, (content_type, body) in loaded.items():
        assert charset_of(content_type) == declared_encoding(body), path
    assert charset_of(loaded["/oasis/cts-xsd/EiPayloads.xsd"][0]) == "iso-8859-1"


def test_every_xsd_in_the_schema_folder_is_served_with_its_declared_charset(front):
    paths = sorted(SCHEMA_DIR.rglob("*.xsd"))
    assert len(paths) > 10
    for path in paths:
        status, headers, body = get(front, "/" + path.relative_to(SCHEMA_DIR).as_posix())
        assert status.startswith("200") and body == path.read_bytes(), path
        assert charset_of(headers["Content-Type"]) == declared_encoding(body), path


@pytest.mark.parametrize("document, content_type", [
    (b'<?xml version="1.0" encoding="iso-8859-1"?>\n<a/>', "text/xml; charset=iso-8859-1"),
    (b"<?xml version='1.0' encoding='UTF-8' standalone='yes'?><a/>", "text/xml; charset=utf-8"),
    (b'<?xml version="1.0"?><a encoding="latin1"/>', "text/xml; charset=utf-8"),
    (b"<a/>", "text/xml; charset=utf-8"),
])
def test_the_content_type_follows_the_declaration_only(document, content_type):
    assert xml_content_type(document) == content_type
