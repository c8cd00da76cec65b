"""EiCreatePartyRegistration, EiRequestPartyRegistration, EiCancelPartyRegistration.

Roles are read from the database on every request (``uow.registrations.roles_of``), not
from the credential cache: a role given or taken counts from the next request on.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict

from service.domain import audit
from service.domain.audit import Subject
from service.domain.commands import (
    CancelRegistration,
    CanceledRegistration,
    CreatedRegistration,
    CreateRegistration,
    RegistrationList,
    RequestRegistration,
    ok_description,
)
from service.domain.errors import (
    InvalidValueError,
    NotFoundError,
    NotPermittedError,
    NotStandingError,
    UnknownMarketContextError,
)
from service.domain.matching import exchange_market
from service.domain.registrations import check_asked, check_registrar
from service.handlers import Context

PASSWORDS_OFF = (
    "This server does not let registrars set parties' passwords over SOAP: its operator may allow it"
    " with TEMIX_ALLOW_REGISTRAR_PASSWORDS=1 (temix serve --allow-registrar-passwords), over TLS only,"
    " or add the party with `temix party add`"
)


def create_registration(cmd: CreateRegistration, uow, ctx: Context) -> CreatedRegistration:
    """The registrar enrols the registree (a new party, if it sends an initial password the
    server may take) and gets the registrationID that names what this added."""
    check_registrar(uow.registrations.roles_of(ctx.party_id), ctx.party_id, "register parties")
    if cmd.registree_id == "":
        raise InvalidValueError("registreePartyID is empty")
    registree = cmd.registree_id or ctx.party_id
    if exchange_market(registree) is not None:  # it never authenticates and is enrolled nowhere
        raise NotPermittedError(
            f"{registree!r} is reserved for the exchange of a market context: no registration creates or enrols it"
        )
    if _is_market_context(registree, ctx):  # its publisher ID: a party of that name would shadow its prices
        raise NotPermittedError(
            f"{registree!r} is a market context's URI, the ID it publishes its trade prices under: no party takes it"
        )
    check_asked(cmd.memberships, cmd.initial_password)
    for uri in cmd.memberships.market_contexts:
        ctx.market_of(uri)  # 462 if the market context is not registered
    if cmd.initial_password is not None:
        if ctx.credentials is None:
            raise NotPermittedError(PASSWORDS_OFF)
        password = cmd.initial_password
        uow.registrations.add_party(registree, *ctx.credentials.stored(password.password, password.text_only))
    elif not uow.registrations.party_exists(registree):
        raise NotFoundError(f"Party {registree!r} is not registered (a new party needs a temix:initialPassword)")
    registration_id = f"reg-{uuid.uuid4()}"
    uow.registrations.create(registration_id, registree, ctx.party_id, ctx.request_id, ctx.now, cmd.memberships)
    details = {"registration_id": registration_id, "party_created": cmd.initial_password is not None}
    details.update({kind: list(names) for kind, names in asdict(cmd.memberships).items() if names})
    uow.audit.record(audit.REGISTRATION_CREATED, Subject(registree), details)
    return CreatedRegistration(registration_id, registree)


def request_registration(cmd: RequestRegistration, uow, ctx: Context) -> RegistrationList:
    """A party's own registrations, or, for a registrar, anyone's; oldest first."""
    if cmd.registree_id != ctx.party_id:
        check_registrar(uow.registrations.roles_of(ctx.party_id), ctx.party_id, "read another party's registrations")
    found = uow.registrations.find(
        cmd.registree_id, cmd.registrar_id, cmd.registration_ids, cmd.intervals, ctx.max_items + 1
    )
    return RegistrationList(tuple(found[: ctx.max_items]), ok_description(len(found), ctx.max_items))


def cancel_registration(cmd: CancelRegistration, uow, ctx: Context) -> CanceledRegistration:
    """All listed, or none; each takes out the memberships it added (later distributions
    no longer reach the party; tenders it already received stay its to accept)."""
    check_registrar(uow.registrations.roles_of(ctx.party_id), ctx.party_id, "cancel registrations")
    if cmd.registrar_id != ctx.party_id:
        raise NotPermittedError(
            f"registrarPartyID must be the authenticated registrar {ctx.party_id!r}, not {cmd.registrar_id!r}"
        )
    registration_ids = list(dict.fromkeys(cmd.registration_ids))
    locked = uow.registrations.lock(cmd.registree_id, registration_ids)
    for registration_id in registration_ids:
        found = locked.get(registration_id)
        if found is None:
            raise NotFoundError(f"Party {cmd.registree_id!r} has no registration {registration_id!r}")
        if found.cancelled_at is not None:
            raise NotStandingError(f"Registration {registration_id!r} is already cancelled")
    uow.registrations.cancel([locked[registration_id] for registration_id in registration_ids], ctx.now)
    for registration_id in registration_ids:
        uow.audit.record(audit.REGISTRATION_CANCELLED, Subject(cmd.registree_id), {"registration_id": registration_id})
    return CanceledRegistration(tuple(registration_ids))


def _is_market_context(party_id: str, ctx: Context) -> bool:
    try:
        ctx.market_of(party_id)
    except UnknownMarketContextError:
        return False
    return True
