"""XML namespaces, in one place. Prefixes follow the CTS schema set's conventions."""

SOAP11_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope"
WSDL_SOAP11 = "http://schemas.xmlsoap.org/wsdl/soap/"
PYLD = "http://docs.oasis-open.org/ns/energyinterop/201110/payloads/cts.04"
EI = "http://docs.oasis-open.org/ns/energyinterop/201110/cts.04"
EMIX = "http://docs.oasis-open.org/ns/emix/2011/06/cts.04"
POWER = "http://docs.oasis-open.org/ns/emix/2011/06/power/cts.04"
SCALE = "http://docs.oasis-open.org/ns/emix/2011/06/siscale"
MIN = "http://docs.oasis-open.org/ws-calendar/ns/min-xcal/2015/12"
STRM = "http://docs.oasis-open.org/ws-calendar/ns/streams/201606"
# Our documented extension (schemas/temix-ext.xsd): positions, distribution, exercise.
TEMIX = "urn:temix:ei-ext:2026-11"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
WSSE_PASSWORD_TEXT = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText"
)
WSSE_PASSWORD_DIGEST = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
)

NSMAP = {
    "pyld": PYLD,
    "ei": EI,
    "emix": EMIX,
    "power": POWER,
    "scale": SCALE,
    "min": MIN,
    "strm": STRM,
    "temix": TEMIX,
}


def q(namespace: str, local: str) -> str:
    """Clark notation ``{ns}local``, the form lxml uses for tags."""
    return f"{{{namespace}}}{local}"
