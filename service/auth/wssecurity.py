"""WS-Security 1.0 UsernameToken: who is calling.

PasswordText is checked against the party's scrypt hash (a verified password is remembered
in-process, keyed by the stored hash, so scrypt's deliberate cost is paid once per worker,
not per request). PasswordDigest = Base64(SHA-1(nonce + created + password)) needs the
password itself, which the server keeps sealed under its key; its Created must be within
the accepted clock skew and its Nonce is remembered for that long, so a replay is refused.

A request over a verified client certificate bound to a party is that party's: with no
UsernameToken if the party does not require WS-Security as well, and never with a
UsernameToken of another party. PasswordText reveals the password, so it is refused over plain
HTTP unless the operator allows it (``--allow-insecure-password``, for local tests).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from lxml import etree

from service.auth.certificates import PLAIN, Transport
from service.auth.keyring import Keyring
from service.auth.passwords import verify_password
from service.soap.faults import AuthenticationFault, ImpersonationFault, InsecureTransportFault
from service.soap.ns import WSSE, WSSE_PASSWORD_DIGEST, WSSE_PASSWORD_TEXT, WSU, q

VERIFIED_CACHE_SIZE = 10_000


@dataclass(frozen=True)
class UsernameToken:
    username: str
    password: str
    digest: bool
    nonce: str | None = None
    created: str | None = None


def read_username_token(header: list[etree._Element] | None) -> UsernameToken | None:
    """The UsernameToken of the wsse:Security header; None if there is no such header."""
    security = next((e for e in header or () if e.tag == q(WSSE, "Security")), None)
    if security is None:
        return None
    token = next(security.iterchildren(q(WSSE, "UsernameToken")), None)
    if token is None:
        raise AuthenticationFault("wsse:Security carries no wsse:UsernameToken")
    parts: dict[str, etree._Element] = {}
    for part in token:
        parts.setdefault(part.tag, part)  # the first of each, as find() would
    username = (getattr(parts.get(q(WSSE, "Username")), "text", None) or "").strip()
    password = parts.get(q(WSSE, "Password"))
    if not username or password is None:
        raise AuthenticationFault("wsse:UsernameToken needs wsse:Username and wsse:Password")
    kind = password.get("Type", WSSE_PASSWORD_TEXT)
    if kind not in (WSSE_PASSWORD_TEXT, WSSE_PASSWORD_DIGEST):
        raise AuthenticationFault(f"Unsupported wsse:Password Type {kind!r}")
    return UsernameToken(
        username=username,
        password=password.text or "",
        digest=kind == WSSE_PASSWORD_DIGEST,
        nonce=getattr(parts.get(q(WSSE, "Nonce")), "text", None),
        created=getattr(parts.get(q(WSU, "Created")), "text", None),
    )


def password_digest(nonce: bytes, created: str, password: str) -> str:
    return base64.b64encode(hashlib.sha1(nonce + created.encode() + password.encode()).digest()).decode()


class Authenticator:
    """Verifies a UsernameToken against the party table, in the request's unit of work.

    A party's stored credentials, and the party a client certificate is bound to, are
    remembered for ``credential_ttl`` seconds per worker (a lookup is a round trip on every
    request otherwise), so a changed password, a disabled party or a removed binding takes
    effect within that time; 0 looks them up every time. ``keys`` opens the sealed
    PasswordDigest secrets (a ``Keyring``, or one key)."""

    def __init__(
        self,
        keys: Keyring | bytes | None,
        clock_skew: timedelta,
        credential_ttl: float = 10.0,
        allow_insecure_password: bool = False,
    ):
        self.keys = Keyring(keys) if isinstance(keys, bytes) else keys
        self.clock_skew = clock_skew
        self.credential_ttl = credential_ttl
        self.allow_insecure_password = allow_insecure_password
        self._pepper = secrets.token_bytes(32)
        self._verified: dict[tuple[str, str], bytes] = {}
        self._credentials: dict[str, tuple[float, tuple[str, bytes | None]]] = {}
        self._bindings: dict[str, tuple[float, tuple[str, bool] | None]] = {}

    def authenticate(self, uow, token: UsernameToken | None, now: datetime, transport: Transport = PLAIN) -> str:
        if token is not None and not token.digest and not transport.secure and not self.allow_insecure_password:
            raise InsecureTransportFault(
                "PasswordText over plain HTTP is refused: it would reveal the password to the network."
                " Call the service over HTTPS, or use PasswordDigest"
            )
        bound = None
        if transport.client_fingerprint is not None:
            bound = self._bound_party(uow, transport.client_fingerprint)
        if token is None:
            if bound is not None and not bound[1]:
                return bound[0]
            if bound is not None:
                raise AuthenticationFault(
                    f"No wsse:Security header: party {bound[0]!r}, whose client certificate this is,"
                    " requires a WS-Security UsernameToken as well"
                )
            raise AuthenticationFault("No wsse:Security header: a WS-Security UsernameToken is required")
        if bound is not None and token.username != bound[0]:
            raise ImpersonationFault(
                f"The client certificate is bound to party {bound[0]!r} but the UsernameToken names"
                f" {token.username!r}: a certificate acts for its own party only"
            )
        credentials = self._credentials_of(uow, token.username)
        if credentials is None:
            raise AuthenticationFault("The security token could not be authenticated")
        password_hash, sealed = credentials
        if token.digest:
            self._check_digest(uow, token, sealed, now)
        elif not self._check_text(token, password_hash):
            raise AuthenticationFault("The security token could not be authenticated")
        return token.username

    def _bound_party(self, uow, fingerprint: str) -> tuple[str, bool] | None:
        """(party, whether it requires WS-Security as well) the certificate is bound to; None
        if it is bound to none, or to a disabled party (it then gives no identity)."""
        remembered = self._bindings.get(fingerprint)
        if remembered is not None and remembered[0] > time.monotonic():
            return remembered[1]
        bound = uow.parties.certificate_party(fingerprint)
        if self.credential_ttl > 0:
            if len(self._bindings) >= VERIFIED_CACHE_SIZE:
                self._bindings.clear()
            self._bindings[fingerprint] = (time.monotonic() + self.credential_ttl, bound)
        return bound

    def _credentials_of(self, uow, party_id: str) -> tuple[str, bytes | None] | None:
        remembered = self._credentials.get(party_id)
        if remembered is not None and remembered[0] > time.monotonic():
            return remembered[1]
        credentials = uow.parties.credentials(party_id)
        if credentials is not None and self.credential_ttl > 0:  # an unknown party is asked again
            if len(self._credentials) >= VERIFIED_CACHE_SIZE:
                self._credentials.clear()
            self._credentials[party_id] = (time.monotonic() + self.credential_ttl, credentials)
        return credentials

    def _check_text(self, token: UsernameToken, password_hash: str) -> bool:
        key = (token.username, password_hash)
        mac = hmac.digest(self._pepper, token.password.encode(), "sha256")
        known = self._verified.get(key)
        if known is not None:
            return hmac.compare_digest(known, mac)
        if not verify_password(token.password, password_hash):
            return False
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            self._verified.clear()
        self._verified[key] = mac
        return True

    def _check_digest(self, uow, token: UsernameToken, sealed: bytes | None, now: datetime) -> None:
        if sealed is None or self.keys is None:
            raise AuthenticationFault(
                "PasswordDigest is not enabled for this party: use PasswordText over TLS"
            )
        if not token.nonce or not token.created:
            raise AuthenticationFault("PasswordDigest needs wsse:Nonce and wsu:Created")
        try:
            nonce = base64.b64decode(token.nonce, validate=True)
            created = datetime.fromisoformat(token.created.strip())
        except ValueError:
            raise AuthenticationFault("wsse:Nonce or wsu:Created is malformed") from None
        if created.tzinfo is None or abs(now - created) > self.clock_skew:
            raise AuthenticationFault(
                f"wsu:Created is outside the accepted clock skew of {int(self.clock_skew.total_seconds())} s"
            )
        expected = password_digest(nonce, token.created, self.keys.open(sealed))
        if not hmac.compare_digest(expected.encode(), token.password.strip().encode()):
            raise AuthenticationFault("The security token could not be authenticated")
        # nonces older than twice the skew can no longer pass the Created check: forgotten
        if not uow.parties.remember_nonce(token.username, token.nonce.strip(), created, now - 2 * self.clock_skew):
            raise AuthenticationFault("This nonce was already used: replay refused")
