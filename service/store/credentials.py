"""The party repository of the request path (``uow.parties``): a party's credentials and
the WS-Security nonces it used. PostgreSQL SQL through the unit of work; registering and
enrolling parties (the ``temix party`` commands) is ``service.store.parties``."""

from __future__ import annotations

from datetime import datetime

_CREDENTIALS = "SELECT password_hash, digest_secret FROM party WHERE party_id = %s"
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

    def remember_nonce(self, party_id: str, nonce: str, created: datetime, forget_before: datetime) -> bool:
        """Remember the nonce; False if the party used it before. Nonces created before
        ``forget_before`` are forgotten on the way."""
        params = (forget_before, party_id, nonce, created)
        return bool(self._uow.fetch(self._uow.sql("temix_remember_nonce", _NONCE, params)))
