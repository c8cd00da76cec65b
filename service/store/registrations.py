"""The registration repository of the request path (``uow.registrations``): roles, parties
created by a registrar, and registrations with the memberships they added.

SQLAlchemy Core on the unit of work's connection (``uow.conn``): registrations are rare, so
they share ``enroll``/``unenroll`` with the ``temix party`` commands rather than having
prepared statements of their own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import astuple
from datetime import datetime

from sqlalchemy import and_, insert, or_, select, update

from service.domain.errors import DuplicateIdError
from service.domain.intervals import Interval
from service.domain.registrations import Memberships, Registration
from service.store.parties import PartyExistsError, add_party, enroll, unenroll
from service.store.tables import party, party_role, registration, registration_membership

# registration_membership.kind, in the order of Memberships' fields
KINDS = ("market_context", "group", "service_area", "role")


class RegistrationRepository:
    """``uow.registrations``."""

    def __init__(self, uow):
        self._uow = uow

    def roles_of(self, party_id: str) -> frozenset[str]:
        """Read on every call (never cached), so a role given or taken counts at once."""
        rows = self._uow.conn.execute(select(party_role.c.role).where(party_role.c.party_id == party_id))
        return frozenset(rows.scalars())

    def party_exists(self, party_id: str) -> bool:
        return self._uow.conn.execute(select(party.c.party_id).where(party.c.party_id == party_id)).first() is not None

    def add_party(self, party_id: str, password_hash: str, digest_secret: bytes | None) -> None:
        """A new party with these credentials, as ``temix party add`` stores them."""
        try:
            add_party(self._uow.conn, party_id, password_hash, digest_secret)
        except PartyExistsError as error:
            raise DuplicateIdError(
                f"Party {party_id!r} already exists: its credentials are not changed over SOAP"
            ) from error

    def create(
        self, registration_id: str, registree_id: str, registrar_id: str, request_id: str, now: datetime,
        memberships: Memberships,
    ) -> Memberships:
        """Enrol the registree and keep the registration with what it added (those the party
        already had are not its to take out later); the memberships added."""
        conn = self._uow.conn
        conn.execute(insert(registration).values(
            registration_id=registration_id, party_id=registree_id, registrar_id=registrar_id,
            request_id=request_id, created_at=now,
        ))
        added = enroll(conn, registree_id, memberships)
        rows = [
            {"registration_id": registration_id, "kind": kind, "name": name}
            for kind, names in zip(KINDS, astuple(added))
            for name in names
        ]
        if rows:
            conn.execute(insert(registration_membership), rows)
        return added

    def find(
        self, registree_id: str, registrar_id: str | None, registration_ids: Iterable[str],
        intervals: Iterable[Interval], limit: int,
    ) -> list[Registration]:
        """The registree's registrations, oldest first, at most ``limit``: of that registrar,
        those IDs, in force during one of the intervals (each filter given)."""
        query = select(registration).where(registration.c.party_id == registree_id)
        during = [
            and_(
                registration.c.created_at < window.end,
                or_(registration.c.cancelled_at.is_(None), registration.c.cancelled_at > window.start),
            )
            for window in intervals
        ]
        if during:
            query = query.where(or_(*during))
        if registrar_id is not None:
            query = query.where(registration.c.registrar_id == registrar_id)
        wanted = sorted(set(registration_ids))
        if wanted:
            query = query.where(registration.c.registration_id.in_(wanted))
        rows = self._uow.conn.execute(
            query.order_by(registration.c.created_at, registration.c.registration_id).limit(limit)
        ).all()
        return self._with_memberships(rows)

    def lock(self, registree_id: str, registration_ids: list[str]) -> dict[str, Registration]:
        """The registree's registrations of these IDs, locked until the commit (a concurrent
        cancel of the same one waits, then sees it cancelled)."""
        rows = self._uow.conn.execute(
            select(registration)
            .where(registration.c.party_id == registree_id, registration.c.registration_id.in_(registration_ids))
            .order_by(registration.c.registration_id)
            .with_for_update()
        ).all()
        return {found.registration_id: found for found in self._with_memberships(rows)}

    def cancel(self, cancelled: list[Registration], now: datetime) -> None:
        """Mark them cancelled and take out the memberships each added."""
        conn = self._uow.conn
        for found in cancelled:
            unenroll(conn, found.registree_id, found.memberships)
        conn.execute(
            update(registration)
            .where(registration.c.registration_id.in_([found.registration_id for found in cancelled]))
            .values(cancelled_at=now)
        )

    def _with_memberships(self, rows) -> list[Registration]:
        if not rows:
            return []
        names: dict[str, dict[str, list[str]]] = {}
        for registration_id, kind, name in self._uow.conn.execute(
            select(registration_membership.c.registration_id, registration_membership.c.kind, registration_membership.c.name)
            .where(registration_membership.c.registration_id.in_([row.registration_id for row in rows]))
        ):
            names.setdefault(registration_id, {}).setdefault(kind, []).append(name)
        return [
            Registration(
                registration_id=row.registration_id,
                registree_id=row.party_id,
                registrar_id=row.registrar_id,
                memberships=Memberships.of(*(names.get(row.registration_id, {}).get(kind, ()) for kind in KINDS)),
                created_at=row.created_at,
                cancelled_at=row.cancelled_at,
            )
            for row in rows
        ]

