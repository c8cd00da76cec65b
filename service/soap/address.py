"""The endpoint address written into a WSDL's soap:address.

From the configured public URL when there is one; else from the request's Host header, but
only if it is a plain host[:port] (a DNS name, an IPv4 address or a bracketed IPv6 address):
anything else a client sends there (quotes, angle brackets, spaces, line breaks, a userinfo
part, an overlong name) gives way to the address the service is bound to. The address is set
as an attribute value with lxml, so even a valid one is never spliced into XML text.
"""

from __future__ import annotations

import copy
import ipaddress
import re

from lxml import etree

from service.soap.ns import WSDL_SOAP11, q

_LABEL = r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)"
_HOSTNAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.?")
_PORT = re.compile(r"[0-9]{1,5}")
MAX_HOST_LENGTH = 253 + 1 + 5
ADDRESS = q(WSDL_SOAP11, "address")


def valid_host(host: str) -> bool:
    """True for ``name``, ``name:port``, ``1.2.3.4[:port]`` and ``[v6][:port]``."""
    if not host or len(host) > MAX_HOST_LENGTH or not host.isascii():
        return False
    if host.startswith("["):
        literal, bracket, rest = host[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            return False
        port = rest[1:] if rest else None
        try:
            ipaddress.IPv6Address(literal)
        except ValueError:
            return False
    else:
        name, colon, port = host.partition(":")
        if not colon:
            port = None
        if len(name) > 253 or not _HOSTNAME.fullmatch(name):
            return False
    return port is None or (_PORT.fullmatch(port) is not None and 0 < int(port) <= 65535)


def endpoint_base(environ: dict, public_url: str | None, bind_url: str) -> str:
    """scheme://host[:port][/prefix] of the endpoints, without a trailing slash."""
    if public_url:
        return public_url.rstrip("/")
    host = environ.get("HTTP_HOST", "")
    scheme = environ.get("wsgi.url_scheme")
    if valid_host(host) and scheme in ("http", "https"):
        return f"{scheme}://{host}"
    return bind_url.rstrip("/")


def wsdl_with_address(wsdl: etree._ElementTree, location: str) -> bytes:
    """A copy of ``wsdl`` with every soap:address location set to ``location``."""
    document = copy.deepcopy(wsdl)
    for element in document.iter(ADDRESS):
        element.set("location", location)
    return etree.tostring(document, xml_declaration=True, encoding="UTF-8")
