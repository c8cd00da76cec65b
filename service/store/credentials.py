"""The party repository of the request path (``uow.parties``): a party's credentials, the
party a client certificate is bound to, and the WS-Security nonces it used. A disabled party
has no credentials here. PostgreSQL SQL through the unit of work; registering and
enrolling parties (the ``temix party`` commands) is ``service.store.parties``."""

from __future__ import annotations

from datetime import datetime

_CREDENTIALS = "SELECT password_hash, digest_secret FROM party WHERE party_id = %s AND disabled_at IS NULL"
_CERTIFICATE_PARTY = (
    "SELECT p.party_id, p.require_wssecurity FROM party_certificate c JOIN party p ON p.party_id = c.party_id"
    " WHERE c.fingerprint = %s AND p.disabled_at IS NULL"
)
# One statement: forget nonces created before a time, and remember this one unless it was
# seen before.
_NONCE = (
    "WITH forgotten AS (DELETE FROM used_nonce WHERE created_at < %s)"
    " INSERT INTO used_nonce (party_id, nonce, created_at) VALUES (%s, %s, %s)"
    " ON CONFLICT DO NOTHING RETURNING nonce"
)


class PartyRepository:
    """``uow.parties``."""

    def __init__(self, uow):
        self._uow = uow

    def credentials(self, party_id: str) -> tuple[str, bytes | None] | None:
        """``(password_hash, digest_secret)`` of the party, or None if there is no such party.
        ``digest_secret`` is None for a PasswordText-only party."""
        rows = self._uow.fetch(self._uow.sql("temix_credentials", _CREDENTIALS, (party_id,)))
        if not rows:
            return None
        password_hash, secret = rows[0]
        return password_hash, None if secret is None else bytes(secret)

    def certificate_party(self, fingerprint: str) -> tuple[str, bool] | None:
        """(party_id, require_wssecurity) of the enabled party the certificate is bound to."""
        rows = self._uow.fetch(self._uow.sql("temix_certificate_party", _CERTIFICATE_PARTY, (fingerprint,)))
        return (rows[0][0], bool(rows[0][1])) if rows else None

    def remember_nonce(self, party_id: str, nonce: str, created: datetime, forget_before: datetime) -> bool:
        """Remember the nonce; False if the party used it before. Nonces created before
        ``forget_before`` are forgotten on the way."""
        params = (forget_before, party_id, nonce, created)
        return bool(self._uow.fetch(self._uow.sql("temix_remember_nonce", _NONCE, params)))
