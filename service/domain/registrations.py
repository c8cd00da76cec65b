"""Party registration: memberships and roles, and the registrations that group them.

A party's *memberships* are the market contexts it trades in, its groups, its service areas
and its roles (``registrar``, and those later issues add). A *registration* is what one
EiCreatePartyRegistration did: the memberships it added to one party (the registree), under a
registrationID the service assigns. Cancelling it takes out exactly those memberships, so
tenders distributed before stay visible and acceptable, later ones no longer reach the party.

Who may do what: only a party with the ``registrar`` role creates or cancels registrations
(membership of a market is the operator's decision, not the party's own); any party may read
its own registrations, a registrar anyone's. The ``registrar`` role itself is given only by
the operator (``temix party role``), never over SOAP; so is the ``meter`` role (a metering
party reports the delivered energy of others).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import astuple, dataclass
from datetime import datetime

from service.domain.errors import InvalidValueError, NotPermittedError
from service.domain.intervals import Interval

REGISTRAR = "registrar"
METER = "meter"  # reports meter readings (temix:eiReportDelivery) for any party
# Roles the service knows; a registration over SOAP may give any of them but those the
# operator alone gives (a registrar could otherwise make itself, or anyone, a meter).
ROLES = (REGISTRAR, METER)
OPERATOR_ONLY = (REGISTRAR, METER)


@dataclass(frozen=True)
class Memberships:
    """Market contexts, groups, service areas and roles: of a party, or added or removed."""

    market_contexts: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    service_areas: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()

    @classmethod
    def of(
        cls,
        market_contexts: Iterable[str] = (),
        groups: Iterable[str] = (),
        service_areas: Iterable[str] = (),
        roles: Iterable[str] = (),
    ) -> Memberships:
        """Sorted, without duplicates."""
        return cls(*(tuple(sorted(set(names))) for names in (market_contexts, groups, service_areas, roles)))

    def __bool__(self) -> bool:
        return any(astuple(self))


@dataclass(frozen=True)
class Registration:
    """One registration as stored: what it added, when, and whether it was cancelled."""

    registration_id: str
    registree_id: str
    registrar_id: str
    memberships: Memberships
    created_at: datetime
    cancelled_at: datetime | None = None

    def overlaps(self, intervals: tuple[Interval, ...]) -> bool:
        """Whether it was in force during one of ``intervals`` (none: always)."""
        return not intervals or any(
            self.created_at < window.end and (self.cancelled_at is None or window.start < self.cancelled_at)
            for window in intervals
        )


@dataclass(frozen=True)
class InitialPassword:
    """A new party's first password, sent by a registrar (only if the server allows it)."""

    password: str
    text_only: bool = False

    def __repr__(self) -> str:  # never in a log line or a traceback's locals
        return f"InitialPassword(<hidden>, text_only={self.text_only})"


def check_registrar(roles: Iterable[str], party_id: str, what: str) -> None:
    if REGISTRAR not in set(roles):
        raise NotPermittedError(
            f"Only a registrar may {what}; {party_id!r} is not one (the market operator gives the role)"
        )


def check_asked(memberships: Memberships, password: InitialPassword | None) -> None:
    """What a registration may ask: known roles but the registrar's, no empty names, something."""
    for what, names in zip(("marketContext", "group", "serviceArea", "role"), astuple(memberships)):
        if any(not name or name != name.strip() for name in names):
            raise InvalidValueError(f"temix:registrationInfo has an empty or padded {what}")
    for role in memberships.roles:
        if role in OPERATOR_ONLY:
            raise NotPermittedError(f"The {role} role is given by the market operator only, not over SOAP")
        if role not in ROLES:
            raise InvalidValueError(f"Unknown role {role!r}: the service knows {', '.join(ROLES)}")
    if password is not None and not password.password:
        raise InvalidValueError("temix:initialPassword is empty")
    if not memberships and password is None:
        raise InvalidValueError("The registration adds nothing: name a market context, group, service area or role")
