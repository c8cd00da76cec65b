"""Issue 11, item 7: the WSDL's soap:address never carries what a client put in its Host header
unless that is a plain host[:port]; with --public-url it is that URL, whatever the Host."""

from __future__ import annotations

import io
from urllib.parse import urlsplit

import pytest
import zeep
from lxml import etree

from service.config import SCHEMA_DIR
from service.soap.address import ADDRESS, valid_host
from service.soap.wsgi import SoapFront

FALLBACK = "http://127.0.0.1:8080"
ENDPOINTS = ("EiTender", "EiTransaction")
CRAFTED_HOSTS = [
    'evil.example"><wsdl:service name="x"/><x a="',
    "evil.example'/><x/>",
    "<script>alert(1)</script>",
    "evil.example extra",
    "evil.example\r\nX-Injected: 1",
    "evil.example\n",
    "a" * 300 + ".example",
    ("a" * 64) + ".example",  # a label over 63 characters
    "user@evil.example",
    "evil.example:99999",
    "evil.example:80x",
    "evil.example:",
    "[::1",
    "[not:an:address]:80",
    "-bad.example",
    "bad..example",
    "évil.example",
    "",
]
VALID_HOSTS = ["temix.example.com", "temix.example.com:8443", "10.0.0.7", "10.0.0.7:8080", "[::1]:8080", "[2001:db8::1]", "localhost"]


def not_for_wsdl_requests(environ, start_response):
    raise AssertionError("a WSDL request reached a SOAP endpoint")


def front(public_url: str | None = None) -> SoapFront:
    endpoints = {name: not_for_wsdl_requests for name in ENDPOINTS}
    return SoapFront(SCHEMA_DIR, endpoints, 2 * 1024 * 1024, public_url=public_url, bind_url=FALLBACK)


def get(app: SoapFront, path: str, query: str = "", host: str | None = None) -> tuple[str, bytes]:
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query, "wsgi.url_scheme": "http",
               "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8080", "wsgi.input": io.BytesIO(b"")}
    if host is not None:
        environ["HTTP_HOST"] = host
    status = []
    body = b"".join(app(environ, lambda s, headers: status.append(s)))
    return status[0], body


def served_addresses(body: bytes) -> list[str]:
    document = etree.fromstring(body)  # raises if the WSDL is not well-formed
    return [element.get("location") for element in document.iter(ADDRESS)]


def element_count(body: bytes) -> int:
    return sum(1 for _ in etree.fromstring(body).iter())


class FrontTransport(zeep.Transport):
    """zeep loading the WSDL and its schemas from the front in-process; the WSDL with ``host``."""

    def __init__(self, app: SoapFront, host: str):
        super().__init__()
        self.app, self.host = app, host

    def load(self, url):
        parts = urlsplit(url)
        status, body = get(self.app, parts.path, parts.query, self.host if parts.query else None)
        assert status.startswith("200"), (url, status)
        return body


@pytest.mark.parametrize("host", CRAFTED_HOSTS)
def test_a_crafted_host_gives_a_well_formed_wsdl_with_the_bound_address(host):
    app = front()
    for name in ENDPOINTS:
        status, body = get(app, f"/{name}", "wsdl", host)
        assert status.startswith("200")
        assert served_addresses(body) == [f"{FALLBACK}/{name}"]
        assert element_count(body) == element_count(get(app, f"/{name}", "wsdl")[1])  # nothing injected


@pytest.mark.parametrize("host", VALID_HOSTS)
def test_a_valid_host_header_is_the_address(host):
    _, body = get(front(), "/EiTender", "wsdl", host)
    assert served_addresses(body) == [f"http://{host}/EiTender"]


def test_without_a_host_header_the_bound_address_is_used():
    _, body = get(front(), "/EiTransaction", "wsdl")
    assert served_addresses(body) == [f"{FALLBACK}/EiTransaction"]


@pytest.mark.parametrize("host", ["temix.example.com", 'evil"><x/>'])
def test_the_public_url_is_used_as_given_whatever_the_host(host):
    app = front(public_url="https://temix.example.com/energy/")
    for name in ENDPOINTS:
        _, body = get(app, f"/{name}", "wsdl", host)
        assert served_addresses(body) == [f"https://temix.example.com/energy/{name}"]


@pytest.mark.parametrize("host", ['evil"><x/>', "evil.example\r\nX: 1", "temix.example.com:8443"])
@pytest.mark.parametrize("public_url", [None, "https://temix.example.com/energy"])
def test_zeep_loads_every_wsdl_and_binds_to_the_served_address(host, public_url):
    app = front(public_url)
    expected_base = public_url or (f"http://{host}" if valid_host(host) else FALLBACK)
    for name in ENDPOINTS:
        client = zeep.Client(f"{FALLBACK}/{name}?wsdl", transport=FrontTransport(app, host),
                             settings=zeep.Settings(strict=True))
        assert client.service._binding_options["address"] == f"{expected_base}/{name}"


def test_valid_host_accepts_host_and_port_only():
    assert all(valid_host(host) for host in VALID_HOSTS)
    assert not any(valid_host(host) for host in CRAFTED_HOSTS)
