"""WS-Security 1.0 UsernameToken: who is calling.

PasswordText is checked against the party's scrypt hash (a verified password is remembered
in-process, keyed by the stored hash, so scrypt's deliberate cost is paid once per worker,
not per request). PasswordDigest = Base64(SHA-1(nonce + created + password)) needs the
password itself, which the server keeps sealed under its key; its Created must be within
the accepted clock skew and its Nonce is remembered for that long, so a replay is refused.
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

from service.auth.passwords import open_secret, verify_password
from service.soap.faults import AuthenticationFault
from service.soap.ns import WSSE, WSSE_PASSWORD_DIGEST, WSSE_PASSWORD_TEXT, WSU, q

VERIFIED_CACHE_SIZE = 10_000


@dataclass(frozen=True)
class UsernameToken:
    username: str
    password: str
    digest: bool
    nonce: str | None = None
    created: str | None = None


def read_username_token(header: list[etree._Element] | None) -> UsernameToken:
    security = next((e for e in header or () if e.tag == q(WSSE, "Security")), None)
    if security is None:
        raise AuthenticationFault("No wsse:Security header: a WS-Security UsernameToken is required")
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

    A party's stored credentials are remembered for ``credential_ttl`` seconds per worker
    (a lookup is a round trip on every request otherwise), so a changed password or a removed
    party takes effect within that time; 0 looks them up every time."""

    def __init__(self, secret_key: bytes | None, clock_skew: timedelta, credential_ttl: float = 10.0):
        self.secret_key = secret_key
        self.clock_skew = clock_skew
        self.credential_ttl = credential_ttl
        self._pepper = secrets.token_bytes(32)
        self._verified: dict[tuple[str, str], bytes] = {}
        self._credentials: dict[str, tuple[float, tuple[str, bytes | None]]] = {}

    def authenticate(self, uow, token: UsernameToken, now: datetime) -> str:
        credentials = self._credentials_of(uow, token.username)
        if credentials is None:
            raise AuthenticationFault("The security token could not be authenticated")
        password_hash, sealed = credentials
        if token.digest:
            self._check_digest(uow, token, sealed, now)
        elif not self._check_text(token, password_hash):
            raise AuthenticationFault("The security token could not be authenticated")
        return token.username

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
        if sealed is None or self.secret_key is None:
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
        expected = password_digest(nonce, token.created, open_secret(self.secret_key, sealed))
        if not hmac.compare_digest(expected.encode(), token.password.strip().encode()):
            raise AuthenticationFault("The security token could not be authenticated")
        # nonces older than twice the skew can no longer pass the Created check: forgotten
        if not uow.parties.remember_nonce(token.username, token.nonce.strip(), created, now - 2 * self.clock_skew):
            raise AuthenticationFault("This nonce was already used: replay refused")
