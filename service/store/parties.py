"""Parties: who may call the service, with what credentials, in which market contexts and groups."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, select
from sqlalchemy.dialects.postgresql import insert

from service.store.tables import party, party_group, party_market_context


class PartyExistsError(Exception):
    """A party with that ID is already registered."""

    def __init__(self, party_id: str):
        super().__init__(f"party {party_id!r} already exists")
        self.party_id = party_id


@dataclass(frozen=True)
class PartyRecord:
    party_id: str
    market_contexts: tuple[str, ...]
    groups: tuple[str, ...]
    digest_enabled: bool


def add_party(
    conn: Connection,
    party_id: str,
    password_hash: str,
    digest_secret: bytes | None = None,
    market_contexts: Iterable[str] = (),
    groups: Iterable[str] = (),
) -> None:
    """Register a party. ``digest_secret`` (the sealed password) enables PasswordDigest.

    Raises ``PartyExistsError`` if ``party_id`` is taken (also when another process registers
    it at the same moment). The caller commits.
    """
    inserted = conn.execute(
        insert(party)
        .values(party_id=party_id, password_hash=password_hash, digest_secret=digest_secret)
        .on_conflict_do_nothing(index_elements=[party.c.party_id])
        .returning(party.c.party_id)
    ).first()
    if inserted is None:
        raise PartyExistsError(party_id)
    contexts = sorted(set(market_contexts))
    if contexts:
        conn.execute(
            party_market_context.insert(),
            [{"party_id": party_id, "market_context": context} for context in contexts],
        )
    names = sorted(set(groups))
    if names:
        conn.execute(
            party_group.insert(), [{"party_id": party_id, "group_name": name} for name in names]
        )


def list_parties(conn: Connection) -> list[PartyRecord]:
    """Every party, by ID, with its market contexts and groups (sorted)."""
    contexts: dict[str, list[str]] = {}
    for row in conn.execute(
        select(party_market_context.c.party_id, party_market_context.c.market_context).order_by(
            party_market_context.c.party_id, party_market_context.c.market_context
        )
    ):
        contexts.setdefault(row.party_id, []).append(row.market_context)
    groups: dict[str, list[str]] = {}
    for row in conn.execute(
        select(party_group.c.party_id, party_group.c.group_name).order_by(
            party_group.c.party_id, party_group.c.group_name
        )
    ):
        groups.setdefault(row.party_id, []).append(row.group_name)
    return [
        PartyRecord(
            party_id=row.party_id,
            market_contexts=tuple(contexts.get(row.party_id, ())),
            groups=tuple(groups.get(row.party_id, ())),
            digest_enabled=row.digest_enabled,
        )
        for row in conn.execute(
            select(
                party.c.party_id, party.c.digest_secret.is_not(None).label("digest_enabled")
            ).order_by(party.c.party_id)
        )
    ]


def get_party_credentials(conn: Connection, party_id: str) -> tuple[str, bytes | None] | None:
    """``(password_hash, digest_secret)`` of ``party_id``, or ``None`` if there is no such party.
    ``digest_secret`` is ``None`` for a PasswordText-only party."""
    row = conn.execute(
        select(party.c.password_hash, party.c.digest_secret).where(party.c.party_id == party_id)
    ).first()
    if row is None:
        return None
    secret = row.digest_secret
    return row.password_hash, None if secret is None else bytes(secret)
