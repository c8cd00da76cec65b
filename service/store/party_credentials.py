"""A party's credentials over its life: client certificates bound to it, a new password,
disabling and enabling it, whether WS-Security stays required over its certificate, and
re-sealing every PasswordDigest secret under a new server key.

Each function takes the command's connection (the caller commits, so one command is one
transaction) and returns what changed, for the command to report (and to record).
Running workers see a change within the credential cache time (TEMIX_CREDENTIAL_CACHE).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, select, text, update
from sqlalchemy.dialects.postgresql import insert

from service.store.parties import UnknownPartyError
from service.store.tables import party, party_certificate, tender

# Held (shared) while a command seals a secret under the current key, and (exclusive) while
# ``temix secret rotate`` replaces the key: no secret is sealed under a key being retired.
SERVER_KEY_LOCK = 0x7E31C5EC


class CertificateBoundError(Exception):
    """The certificate is already bound to a party (a certificate acts for one party only)."""

    def __init__(self, fingerprint: str, party_id: str):
        super().__init__(f"certificate {fingerprint} is already bound to party {party_id!r}")
        self.party_id = party_id


@dataclass(frozen=True)
class BoundCertificate:
    fingerprint: str
    party_id: str
    subject: str | None
    added_at: datetime


def hold_server_key(conn: Connection, exclusive: bool = False) -> None:
    """Until the transaction ends, no rotation (shared) or nothing sealing (exclusive)."""
    function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    conn.execute(text(f"SELECT {function}(:key)"), {"key": SERVER_KEY_LOCK})


def bind_certificate(conn: Connection, party_id: str, fingerprint: str, subject: str | None = None) -> bool:
    """Bind the certificate to the party; False if it was already bound to it. Raises
    ``CertificateBoundError`` if it is bound to another, ``UnknownPartyError``."""
    _lock_party(conn, party_id)
    inserted = conn.execute(
        insert(party_certificate)
        .values(fingerprint=fingerprint, party_id=party_id, subject=subject)
        .on_conflict_do_nothing(index_elements=[party_certificate.c.fingerprint])
        .returning(party_certificate.c.fingerprint)
    ).first()
    if inserted is not None:
        return True
    owner = conn.execute(
        select(party_certificate.c.party_id).where(party_certificate.c.fingerprint == fingerprint)
    ).scalar_one()
    if owner != party_id:
        raise CertificateBoundError(fingerprint, owner)
    return False


def unbind_certificate(conn: Connection, party_id: str, fingerprint: str) -> bool:
    """Remove the binding; False if the certificate was not bound to this party."""
    _lock_party(conn, party_id)
    removed = conn.execute(
        delete(party_certificate)
        .where(party_certificate.c.party_id == party_id, party_certificate.c.fingerprint == fingerprint)
        .returning(party_certificate.c.fingerprint)
    ).first()
    return removed is not None


def list_certificates(conn: Connection, party_id: str | None = None) -> list[BoundCertificate]:
    """The bindings, by party then fingerprint; of one party if given (``UnknownPartyError``)."""
    query = select(party_certificate).order_by(party_certificate.c.party_id, party_certificate.c.fingerprint)
    if party_id is not None:
        _lock_party(conn, party_id)
        query = query.where(party_certificate.c.party_id == party_id)
    return [BoundCertificate(r.fingerprint, r.party_id, r.subject, r.added_at) for r in conn.execute(query)]


def set_password(conn: Connection, party_id: str, password_hash: str, seal: Callable[[], bytes] | None) -> None:
    """A new password: its scrypt hash, and, if ``seal`` is given, the secret it seals (called
    with the server key held, see ``hold_server_key``); a party with no sealed secret keeps
    none (PasswordText only) unless sealed anew."""
    _lock_party(conn, party_id, update_lock=True)
    sealed = None
    if seal is not None:
        hold_server_key(conn)
        sealed = seal()
    conn.execute(update(party).where(party.c.party_id == party_id).values(password_hash=password_hash, digest_secret=sealed))


def digest_enabled(conn: Connection, party_id: str) -> bool:
    row = _lock_party(conn, party_id)
    return row.digest_secret is not None


def disable_party(conn: Connection, party_id: str, now: datetime) -> list[str] | None:
    """Disable the party: it authenticates nowhere. Its standing tenders stop standing, as if
    it cancelled them (cancelled_at = now), in this transaction. Returns their tenderIDs, or
    None if the party was already disabled (nothing changed)."""
    row = _lock_party(conn, party_id, update_lock=True)
    if row.disabled_at is not None:
        return None
    conn.execute(update(party).where(party.c.party_id == party_id).values(disabled_at=now))
    # standing as EiCancelTender finds them (service.domain.tenders.check_cancellable): not
    # cancelled, not filled, not expired, not started
    cancelled = conn.execute(
        update(tender)
        .where(
            tender.c.party_id == party_id,
            tender.c.cancelled_at.is_(None),
            tender.c.remaining_kw > 0,
            (tender.c.expires_at.is_(None)) | (tender.c.expires_at > now),
            tender.c.start_at > now,
        )
        .values(cancelled_at=now)
        .returning(tender.c.tender_id)
    ).scalars()
    return sorted(cancelled)


def enable_party(conn: Connection, party_id: str) -> bool:
    """Enable a disabled party; False if it was enabled. Its cancelled tenders stay cancelled."""
    row = _lock_party(conn, party_id, update_lock=True)
    if row.disabled_at is None:
        return False
    conn.execute(update(party).where(party.c.party_id == party_id).values(disabled_at=None))
    return True


def set_require_wssecurity(conn: Connection, party_id: str, required: bool) -> bool:
    """Whether a request over the party's certificate needs a UsernameToken too; False if it
    already was so."""
    row = _lock_party(conn, party_id, update_lock=True)
    if row.require_wssecurity == required:
        return False
    conn.execute(update(party).where(party.c.party_id == party_id).values(require_wssecurity=required))
    return True


def reseal_secrets(conn: Connection, reseal: Callable[[bytes], bytes | None]) -> int:
    """Pass every party's sealed secret through ``reseal`` (None: it is sealed as wanted
    already) and store what it returns; the count re-sealed. The caller holds the server key
    exclusively (``hold_server_key``)."""
    rows = conn.execute(
        select(party.c.party_id, party.c.digest_secret)
        .where(party.c.digest_secret.is_not(None))
        .order_by(party.c.party_id)
        .with_for_update()
    ).all()
    count = 0
    for row in rows:
        sealed = reseal(bytes(row.digest_secret))
        if sealed is not None:
            conn.execute(update(party).where(party.c.party_id == row.party_id).values(digest_secret=sealed))
            count += 1
    return count


def _lock_party(conn: Connection, party_id: str, update_lock: bool = False):
    """The party's row, locked for the transaction (FOR UPDATE to change it, else FOR KEY
    SHARE); ``UnknownPartyError`` if there is none."""
    query = select(party.c.party_id, party.c.disabled_at, party.c.require_wssecurity, party.c.digest_secret).where(
        party.c.party_id == party_id
    )
    query = query.with_for_update() if update_lock else query.with_for_update(key_share=True, read=True)
    row = conn.execute(query).first()
    if row is None:
        raise UnknownPartyError(party_id)
    return row
