"""Parties: who may call the service, with what credentials, and their memberships: the
market contexts they are enrolled in, their groups and their service areas (whom an
EiDistributeTender reaches), and their roles (a registrar registers other parties)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import astuple, dataclass

from sqlalchemy import Connection, delete, select
from sqlalchemy.dialects.postgresql import insert

from service.domain.registrations import Memberships
from service.store.tables import (
    market_context,
    party,
    party_group,
    party_market_context,
    party_role,
    party_service_area,
)

__all__ = ["Memberships", "PartyExistsError", "PartyRecord", "UnknownPartyError"]


class PartyExistsError(Exception):
    """A party with that ID is already registered."""

    def __init__(self, party_id: str):
        super().__init__(f"party {party_id!r} already exists")
        self.party_id = party_id


class UnknownPartyError(Exception):
    """No party with that ID is registered."""

    def __init__(self, party_id: str):
        super().__init__(f"no party {party_id!r}")
        self.party_id = party_id


# Each membership table and its name column, in the order of Memberships' fields.
MEMBERSHIP_TABLES = (
    (party_market_context, "market_context"),
    (party_group, "group_name"),
    (party_service_area, "service_area"),
    (party_role, "role"),
)


@dataclass(frozen=True)
class PartyRecord:
    party_id: str
    market_contexts: tuple[str, ...]
    groups: tuple[str, ...]
    digest_enabled: bool
    service_areas: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()


def add_party(
    conn: Connection,
    party_id: str,
    password_hash: str,
    digest_secret: bytes | None = None,
    market_contexts: Iterable[str] = (),
    groups: Iterable[str] = (),
    service_areas: Iterable[str] = (),
    roles: Iterable[str] = (),
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
    enroll(conn, party_id, Memberships.of(market_contexts, groups, service_areas, roles))


def enroll(conn: Connection, party_id: str, memberships: Memberships) -> Memberships:
    """Add the party to these market contexts, groups, service areas and roles; return those it was
    not already in. Distributions already sent are not re-addressed: the party reaches only
    later ones. Raises ``UnknownPartyError``. The caller commits."""
    _check_party(conn, party_id)
    added = []
    for (table, column), names in zip(MEMBERSHIP_TABLES, astuple(memberships)):
        rows = []
        if names:
            rows = conn.execute(
                insert(table)
                .values([{"party_id": party_id, column: name} for name in names])
                .on_conflict_do_nothing()
                .returning(table.c[column])
            ).scalars()
        added.append(tuple(sorted(rows)))
    return Memberships(*added)


def unenroll(conn: Connection, party_id: str, memberships: Memberships) -> Memberships:
    """Take the party out of these market contexts, groups, service areas and roles; return those
    it was in. Tenders already distributed to it stay visible and acceptable to it; later
    distributions no longer reach it. Raises ``UnknownPartyError``. The caller commits."""
    _check_party(conn, party_id)
    removed = []
    for (table, column), names in zip(MEMBERSHIP_TABLES, astuple(memberships)):
        rows = []
        if names:
            rows = conn.execute(
                delete(table)
                .where(table.c.party_id == party_id, table.c[column].in_(names))
                .returning(table.c[column])
            ).scalars()
        removed.append(tuple(sorted(rows)))
    return Memberships(*removed)


def unregistered_market_contexts(conn: Connection, uris: Iterable[str]) -> list[str]:
    """Those of ``uris`` not registered with the service (tenders in them are refused)."""
    wanted = sorted(set(uris))
    if not wanted:
        return []
    known = set(
        conn.execute(
            select(market_context.c.market_context).where(market_context.c.market_context.in_(wanted))
        ).scalars()
    )
    return [uri for uri in wanted if uri not in known]


def _check_party(conn: Connection, party_id: str) -> None:
    # FOR KEY SHARE: the party cannot be deleted before the memberships are committed.
    found = conn.execute(
        select(party.c.party_id).where(party.c.party_id == party_id).with_for_update(key_share=True, read=True)
    ).first()
    if found is None:
        raise UnknownPartyError(party_id)


def list_parties(conn: Connection) -> list[PartyRecord]:
    """Every party, by ID, with its market contexts, groups, service areas and roles (sorted)."""
    members: list[dict[str, list[str]]] = []
    for table, column in MEMBERSHIP_TABLES:
        names: dict[str, list[str]] = {}
        for party_id, name in conn.execute(
            select(table.c.party_id, table.c[column]).order_by(table.c.party_id, table.c[column])
        ):
            names.setdefault(party_id, []).append(name)
        members.append(names)
    contexts, groups, areas, roles = members
    return [
        PartyRecord(
            party_id=row.party_id,
            market_contexts=tuple(contexts.get(row.party_id, ())),
            groups=tuple(groups.get(row.party_id, ())),
            digest_enabled=row.digest_enabled,
            service_areas=tuple(areas.get(row.party_id, ())),
            roles=tuple(roles.get(row.party_id, ())),
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
