"""Client certificates: their SHA-256 fingerprints, and what a request's transport says.

A party is bound to a client certificate by the SHA-256 fingerprint of the certificate's DER
encoding (as OpenADR 2.0b does), written as 64 lowercase hex digits. The front that terminates
TLS verifies the certificate against the client CA (``--client-ca``); the application only
sees the verified certificate, through the WSGI environ (``transport_of``).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

# Where a front puts the DER bytes of the verified client certificate, if it does not give
# the application the TLS socket itself.
CLIENT_CERT_ENVIRON = "temix.client_cert_der"

_HEX = re.compile(r"[0-9a-f]{64}")


class CertificateError(ValueError):
    """Not a fingerprint, or not a certificate."""


@dataclass(frozen=True)
class Transport:
    """What the connection a request came over says: whether it was encrypted (HTTPS), and
    the fingerprint of the client certificate the front verified, if any."""

    secure: bool = False
    client_fingerprint: str | None = None


PLAIN = Transport()


def fingerprint_of_der(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


def normalized_fingerprint(text: str) -> str:
    """``text`` as 64 lowercase hex digits; colons, spaces and case as tools print them are
    accepted (``openssl x509 -fingerprint -sha256`` writes ``AB:CD:...``)."""
    cleaned = re.sub(r"[\s:]", "", text.strip()).lower()
    if cleaned.startswith("sha256="):
        cleaned = cleaned[len("sha256=") :]
    if not _HEX.fullmatch(cleaned):
        raise CertificateError(f"not a SHA-256 fingerprint (64 hex digits, colons allowed): {text!r}")
    return cleaned


def read_pem_certificate(data: bytes) -> tuple[str, str]:
    """(fingerprint, subject) of the first certificate in PEM ``data``."""
    from cryptography import x509

    try:
        certificate = x509.load_pem_x509_certificate(data)
    except ValueError as error:
        raise CertificateError(f"not a PEM certificate: {error}") from error
    from cryptography.hazmat.primitives.serialization import Encoding

    return fingerprint_of_der(certificate.public_bytes(Encoding.DER)), certificate.subject.rfc4514_string()


def transport_of(environ: dict) -> Transport:
    """The transport of a WSGI request: HTTPS if ``wsgi.url_scheme`` says so (our TLS, or
    gunicorn's trusted X-Forwarded-Proto); the client certificate from the front's socket
    (gunicorn hands its TLS socket to the application as ``gunicorn.socket``) or from
    ``CLIENT_CERT_ENVIRON``. A certificate is only there if the front verified it."""
    secure = environ.get("wsgi.url_scheme") == "https"
    der = environ.get(CLIENT_CERT_ENVIRON)
    if der is None and secure:
        socket = environ.get("gunicorn.socket")
        getpeercert = getattr(socket, "getpeercert", None)
        if getpeercert is not None:
            der = getpeercert(binary_form=True)
    return Transport(secure=secure, client_fingerprint=fingerprint_of_der(der) if der else None)
