"""A throwaway certificate authority for the TLS tests, made with the ``cryptography`` package:
a CA, a server certificate for 127.0.0.1 and localhost, and client certificates, as PEM files.

    pki = Pki.make(folder)
    pki.server_cert, pki.server_key, pki.ca_cert      # paths for temix serve / the client
    alice = pki.client("alice")                       # .cert, .key, .fingerprint
"""

from __future__ import annotations

import ipaddress
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from service.auth.certificates import fingerprint_of_der


@dataclass(frozen=True)
class Identity:
    cert: Path
    key: Path
    fingerprint: str  # SHA-256 of the DER certificate, lowercase hex


class Pki:
    def __init__(self, folder: Path, ca_key, ca: x509.Certificate):
        self.folder = folder
        self._ca_key = ca_key
        self._ca = ca
        self.ca_cert = folder / "ca.pem"

    @classmethod
    def make(cls, folder: Path, name: str = "temix test CA") -> Pki:
        folder.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        ca = (
            _builder(subject, subject, key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
            )
            .sign(key, hashes.SHA256())
        )
        pki = cls(folder, key, ca)
        pki.ca_cert.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        return pki

    @property
    def server(self) -> Identity:
        path = self.folder / "server.pem"
        if not path.exists():
            names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            return self._issue("server", "localhost", ExtendedKeyUsageOID.SERVER_AUTH, names)
        return Identity(path, self.folder / "server.key", _fingerprint(path))

    def client(self, name: str) -> Identity:
        """A client certificate with common name ``name`` (made once per name)."""
        path = self.folder / f"{name}.pem"
        if path.exists():
            return Identity(path, self.folder / f"{name}.key", _fingerprint(path))
        return self._issue(name, name, ExtendedKeyUsageOID.CLIENT_AUTH)

    def client_context(self, identity: Identity | None = None) -> ssl.SSLContext:
        """An ssl context that trusts the CA and presents ``identity``, if given."""
        context = ssl.create_default_context(cafile=str(self.ca_cert))
        if identity is not None:
            context.load_cert_chain(str(identity.cert), str(identity.key))
        return context

    def _issue(self, file_name: str, common_name: str, usage, names=()) -> Identity:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        builder = _builder(subject, self._ca.subject, key.public_key()).add_extension(
            x509.ExtendedKeyUsage([usage]), critical=False
        )
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(list(names)), critical=False)
        certificate = builder.sign(self._ca_key, hashes.SHA256())
        cert_path, key_path = self.folder / f"{file_name}.pem", self.folder / f"{file_name}.key"
        cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        key_path.chmod(0o600)
        return Identity(cert_path, key_path, fingerprint_of_der(certificate.public_bytes(serialization.Encoding.DER)))


def _builder(subject: x509.Name, issuer: x509.Name, public_key) -> x509.CertificateBuilder:
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=2))
    )


def _fingerprint(path: Path) -> str:
    certificate = x509.load_pem_x509_certificate(path.read_bytes())
    return fingerprint_of_der(certificate.public_bytes(serialization.Encoding.DER))
