"""The one hardened XML parser of the service.

No DTD (internal or external) is accepted, no entity is expanded or resolved, nothing is
fetched from the network, the tree's depth is bounded and the body size is checked by the
WSGI front before parsing. A document carrying a DOCTYPE is refused outright: that closes
XXE, billion laughs and external-DTD tricks in one rule.
"""

from lxml import etree

from service.soap.faults import ForbiddenXmlFault, MalformedXmlFault

MAX_DEPTH = 64


class _NothingExternal(etree.Resolver):
    """Every external resource (a DTD, an entity) resolves to nothing, whatever the flags:
    lxml 6 with collect_ids=False reads a DOCTYPE's external DTD from the local disk despite
    load_dtd=False (reaching files, or blocking on a FIFO), and the byte check for DOCTYPE
    below misses one written in UTF-16 or UTF-32."""

    def resolve(self, system_url, public_id, context):
        return self.resolve_string("", context)


def _parser() -> etree.XMLParser:
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )
    parser.resolvers.add(_NothingExternal())
    return parser


def parse_document(data: bytes) -> etree._Element:
    """Parse a whole message; raise a SoapFault naming the problem and its line."""
    if not data.strip():
        raise MalformedXmlFault("Empty request body: a SOAP envelope was expected")
    if b"<!DOCTYPE" in data:
        # checked before parsing (in ASCII-compatible encodings; the resolver covers the others)
        raise ForbiddenXmlFault(f"A DOCTYPE/DTD is not allowed in a request (line {_line_of(data)})")
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        # The message names the line and column; the body itself is never logged or echoed.
        raise MalformedXmlFault(f"Malformed XML: {exc.msg} (line {exc.lineno})") from None
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise ForbiddenXmlFault("A DOCTYPE/DTD is not allowed in a request (line 1)")
    _check_tree(root)
    return root


def _line_of(data: bytes) -> int:
    return data[: data.find(b"<!DOCTYPE")].count(b"\n") + 1


# any element deeper than MAX_DEPTH, found by libxml2's XPath rather than a walk in Python
_TOO_DEEP = etree.XPath("/*" * (MAX_DEPTH + 1) + "[1]")


def _check_tree(root: etree._Element) -> None:
    """Refuse leftover entity references and trees nested deeper than MAX_DEPTH."""
    deep = _TOO_DEEP(root)
    if deep:
        raise ForbiddenXmlFault(f"XML nested deeper than {MAX_DEPTH} levels (line {deep[0].sourceline})")
    entity = next(root.iter(etree.Entity), None)
    if entity is not None:
        raise ForbiddenXmlFault(f"Entity reference &{entity.name}; is not allowed (line {entity.sourceline})")
