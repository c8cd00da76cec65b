"""The values the fuzz test's mutations put in requests: boundaries of each kind of text
(decimals, dateTimes, durations, interval filters, words), raw bytes lxml cannot hold, and
the namespaces an element may be moved to."""

from __future__ import annotations

from service.soap.ns import EI, EMIX, MIN, POWER, PYLD, SOAP11_ENV, TEMIX, WSSE

SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
WSA = "http://www.w3.org/2005/08/addressing"
# Text that lxml cannot hold (control characters, broken UTF-8) goes in as this marker and is
# swapped for the raw bytes after serialisation.
RAW_MARK = "FUZZ-RAW-MARK"
RAW_BYTES = [b"\x01", b"\x00", b"\x7f", b"\x1b[31m", b"&#1;", b"&#0;", b"&#xFFFE;", b"&#55296;", b"\xff\xfe",
             b"\xc0\x80", b"\xed\xa0\x80", b"\x80", b"&unknown;", b"&#x110000;", b"<", b"&"]

HUGE = [64, 256, 1_000, 10_000, 100_000]
DATES = [
    "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59.999999999Z", "0001-01-01T00:00:00-14:00", "9999-12-31T23:59:59+14:00",
    "2030-02-29T00:00:00Z", "2030-01-01T24:00:00Z", "2030-01-01T10:00:00", "2030-01-01T10:00:00+14:01",
    "2030-01-01T10:00:00-23:59", "-2030-01-01T10:00:00Z", "12030-01-01T10:00:00Z", "2030-01-01T10:00:00.123456789012Z",
    "2030-01-01", "10:00:00Z", "2030-01-01T10:00:60Z", "1970-01-01T00:00:00Z", "2030-01-01T10:00:00+00:00",
    "2030-03-31T01:30:00+01:00", "2000-01-01T00:00:00Z",
]
DURATIONS = [
    "P99999999Y", "PT99999999999999H", "P9999999999999999999D", "-PT1H", "PT0S", "P0D", "PT0.0000001S",
    "P1Y2M3DT4H5M6.7890123456789S", "P1M", "P1Y", "P1D", "PT1H", "PT5M", "PT1S", "PT1M", "P", "PT", "P1W",
    "PT1.5H", "P10000Y", "PT2562047788015215H", "P7D", "-P1D", "PT-1H", "P0Y0M0DT0H0M0.000S",
]
DECIMALS = [
    "0", "-0", "-1", "1", "0.1", "1E+131072", "1e-131072", "1E+999999999", "-1E+999999999", "9" * 40, "9" * 1000,
    "0." + "0" * 60 + "1", "12345678901234567890.12345678901234567890", "0.000000000000000000000000000001",
    "NaN", "INF", "-INF", "+INF", "Infinity", "sNaN", "1.7976931348623157E+309", "1E-400", ".5", "5.", "+5",
    "1,5", "0x10", "1_000", "100000000000000000000", "-100000000000000000000", "1E+28", "1E-28", "00000001",
]
WORDS = [
    "", " ", "\t \n ", "Ünïcødé ☃ 𝄞 مرحبا 中文", "\u200b", "\u202eevil", "<&>\"'", "]]>", "&amp;", "a b", "  padded  ",
    "\u00a0", "true", "false", "1", "0", "call", "put", "buy", "sell", "tender", "transaction", "exercise",
    "indicationOfInterest", "publication", "registrar", "k", "M", "W", "Wh", "USD", "EUR", "power", "transport", "http://market.example.com/temix/ctx1",
    "urn:unknown:context", "NODE-1", "null", "nil", "%s%n%x", "'; DROP TABLE tender; --", "${jndi:ldap://x}", "\\",
]
INTERVALS = [
    "0001-01-01T00:00:00+14:00/PT1H", "2030-01-01T00:00:00Z/9999-12-31T23:59:59Z", "2030-01-01T00:00:00Z/P99999999Y",
    "9999-12-31T23:59:59-14:00/P1D", "2030-01-01T00:00:00Z/2029-01-01T00:00:00Z", "2030-01-01T00:00:00/PT1H",
    "2030-01-01T00:00:00Z", "/", "2030-01-01T00:00:00Z/", "2030-01-01T00:00:00Z/PT0S", "2030-01-01T00:00:00Z/-PT1H",
]
ID_TAGS = {"requestID", "tenderID", "transactionID", "partyID", "counterPartyID", "requestorPartyID",
           "optionTransactionID", "uid", "node", "pointOfReceipt", "pointOfDelivery", "marketContext", "group",
           "serviceArea", "mrid", "quoteID", "registrationID", "publisherPartyID", "subscriberPartyID",
           "registreePartyID", "registrarPartyID"}
NAMESPACES = [EI, EMIX, MIN, POWER, PYLD, TEMIX, WSSE, SOAP11_ENV, "", "urn:wrong", "http://docs.oasis-open.org/ns/energyinterop/201110"]


def values_for(local: str) -> list[str]:
    """Boundary values that suit an element's kind (any text may still land anywhere)."""
    if local in ("quantity", "value", "hertz", "voltage"):
        return DECIMALS
    if local in ("dateTime", "expirationDate", "Created"):
        return DATES
    if local in ("duration", "resolution"):
        return DURATIONS
    if local == "uid":
        return INTERVALS + WORDS
    return WORDS + DECIMALS[:8]
