"""The registration handlers on a fake unit of work, and their reader and the request log's
view of them: who may register whom, what a cancellation takes out, and that a password is
stored as the server's credentials maker says and never logged."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from lxml import etree

from service.domain.commands import CancelRegistration, CreateRegistration, RequestRegistration
from service.domain.errors import TemixError, UnknownMarketContextError
from service.domain.intervals import Interval
from service.domain.markets import MarketContext
from service.domain.registrations import InitialPassword, Memberships
from service.handlers.registrations import cancel_registration, create_registration, request_registration
from service.pipeline import canonical_digest, logged_body
from service.soap import readers
from tests.support import messages as msg
from tests.unit.fake_uow import FakeUnitOfWork, Party
from tests.unit.test_handlers import CTX, NOW, context

OTHER = "http://other.example/ctx"


class Credentials:
    """Stores passwords in the open, so tests can see what was stored."""

    def stored(self, password: str, text_only: bool):
        return f"hash({password})", None if text_only else f"sealed({password})".encode()


def market() -> FakeUnitOfWork:
    return FakeUnitOfWork({"reg": Party(roles={"registrar"}), "party-A": Party({CTX}), "party-B": Party()})


def market_of(uri: str) -> MarketContext:
    if uri not in (CTX, OTHER):
        raise UnknownMarketContextError(f"Market context {uri!r} is not registered with this service")
    return MarketContext(uri)


def ctx(party_id="reg", credentials=None, request_id="r1", now=NOW):
    return replace(context(party_id, request_id, now), credentials=credentials, market_of=market_of)


def code_of(call) -> str:
    with pytest.raises(TemixError) as refused:
        call()
    return refused.value.response_code


def test_a_registrar_registers_what_the_party_did_not_have():
    uow = market()
    created = create_registration(
        CreateRegistration("party-A", Memberships.of([CTX], ["north"], ["Z1"])), uow, ctx()
    )
    assert created.registree_id == "party-A" and created.registration_id.startswith("reg-")
    assert uow.registrations.rows[created.registration_id].memberships == Memberships.of(groups=["north"], service_areas=["Z1"])
    assert uow.parties["party-A"].groups == {"north"}


def test_only_a_registrar_registers_anyone_itself_included():
    uow = market()
    for registree in ("party-A", "party-B", None):
        assert code_of(lambda: create_registration(CreateRegistration(registree, Memberships.of(groups=["g"])), uow, ctx("party-A"))) == "403"
    assert uow.registrations.rows == {}


@pytest.mark.parametrize(
    ("command", "code"),
    [
        (CreateRegistration("party-Z", Memberships.of(groups=["g"])), "404"),
        (CreateRegistration("", Memberships.of(groups=["g"])), "400"),
        (CreateRegistration("party-A", Memberships.of(["http://nowhere.example"])), "462"),
        (CreateRegistration("party-A", Memberships.of(roles=["registrar"])), "403"),
        (CreateRegistration("party-A", Memberships.of(roles=["pilot"])), "400"),
        (CreateRegistration("party-A", Memberships.of(groups=[""])), "400"),
        (CreateRegistration("party-A", Memberships()), "400"),
        (CreateRegistration("party-A", Memberships.of(groups=["g"]), InitialPassword("pw")), "409"),
        (CreateRegistration("party-N", Memberships(), InitialPassword("")), "400"),
    ],
)
def test_a_registration_breaking_a_rule_is_refused(command, code):
    uow = market()
    assert code_of(lambda: create_registration(command, uow, ctx(credentials=Credentials()))) == code
    assert uow.registrations.rows == {}


@pytest.mark.parametrize("started", [True, False])  # its party is registered when the exchange first starts
@pytest.mark.parametrize("info", [Memberships.of(groups=["g"]), Memberships.of([CTX])])
@pytest.mark.parametrize("password", [None, InitialPassword("pw-X")])
def test_a_market_contexts_exchange_is_registered_by_no_registrar(started, info, password):
    """Its party ID is reserved and never authenticates (README "Exchange"), as `temix party
    add` refuses it: a registrar neither creates it with a password nor enrols it anywhere."""
    exchange = f"{CTX}#exchange"
    def parties():
        return {"reg": Party(roles={"registrar"}), **({exchange: Party()} if started else {})}
    uow = FakeUnitOfWork(parties())
    command = CreateRegistration(exchange, info, password)
    with pytest.raises(TemixError, match="reserved for the exchange") as refused:
        create_registration(command, uow, ctx(credentials=Credentials()))
    assert refused.value.response_code == "403"
    assert uow.registrations.rows == {} and uow.parties == parties()


@pytest.mark.parametrize("password", [None, InitialPassword("pw-X")])
def test_no_registrar_makes_a_party_of_a_market_contexts_uri(password):
    """A market context publishes its trade prices under its URI (README "EiQuote"): a party
    of that ID would shadow them, so no registration creates or enrols one."""
    uow = market()
    before = dict(uow.parties)
    with pytest.raises(TemixError, match="market context's URI") as refused:
        create_registration(CreateRegistration(CTX, Memberships.of(groups=["g"]), password), uow, ctx(credentials=Credentials()))
    assert refused.value.response_code == "403"
    assert uow.registrations.rows == {} and uow.parties == before


def test_a_new_party_gets_its_password_only_if_the_server_allows_it():
    uow = market()
    command = CreateRegistration("party-N", Memberships.of([CTX]), InitialPassword("pw-N"))
    assert code_of(lambda: create_registration(command, uow, ctx())) == "403"
    assert "party-N" not in uow.parties

    create_registration(command, uow, ctx(credentials=Credentials()))
    assert uow.parties["party-N"].credentials == ("hash(pw-N)", b"sealed(pw-N)")
    assert uow.parties["party-N"].market_contexts == {CTX}


def test_a_party_reads_its_own_registrations_a_registrar_anyones():
    uow = market()
    first = create_registration(CreateRegistration("party-B", Memberships.of([CTX])), uow, ctx())
    later = NOW + timedelta(days=1)
    create_registration(CreateRegistration("party-B", Memberships.of(groups=["g"])), uow, ctx(now=later))

    own = request_registration(RequestRegistration("party-B"), uow, ctx("party-B"))
    assert [r.registree_id for r in own.registrations] == ["party-B", "party-B"]
    assert request_registration(RequestRegistration("party-B"), uow, ctx("reg")).registrations == own.registrations
    narrowed = request_registration(
        RequestRegistration("party-B", intervals=(Interval(NOW, NOW + timedelta(hours=1)),)), uow, ctx("party-B")
    )
    assert [r.registration_id for r in narrowed.registrations] == [first.registration_id]
    assert code_of(lambda: request_registration(RequestRegistration("party-B"), uow, ctx("party-A"))) == "403"


def test_cancelling_takes_out_what_it_added_once_and_all_or_none():
    uow = market()
    made = create_registration(CreateRegistration("party-A", Memberships.of([CTX, OTHER], ["g"])), uow, ctx())
    rid = made.registration_id

    assert code_of(lambda: cancel_registration(CancelRegistration("party-A", "reg", (rid, "nope")), uow, ctx())) == "404"
    assert code_of(lambda: cancel_registration(CancelRegistration("party-A", "party-A", (rid,)), uow, ctx("party-A"))) == "403"
    assert code_of(lambda: cancel_registration(CancelRegistration("party-A", "someone", (rid,)), uow, ctx())) == "403"
    assert code_of(lambda: cancel_registration(CancelRegistration("party-B", "reg", (rid,)), uow, ctx())) == "404"
    assert uow.parties["party-A"].market_contexts == {CTX, OTHER}

    cancel_registration(CancelRegistration("party-A", "reg", (rid, rid)), uow, ctx())
    assert uow.parties["party-A"].market_contexts == {CTX} and uow.parties["party-A"].groups == set()
    assert code_of(lambda: cancel_registration(CancelRegistration("party-A", "reg", (rid,)), uow, ctx())) == "410"


# --- the reader, and what the request log keeps ---------------------------------------------


def test_the_reader_takes_memberships_roles_and_the_password_as_sent():
    payload = msg.create_party_registration(
        "r1", "party-N", market_contexts=[CTX], groups=["b", "a", "a"], areas=["Z"], password=" spaced pw ", text_only=True
    )
    command = readers.create_party_registration(payload, readers.Reading(lambda uri: None))
    assert command.registree_id == "party-N"
    assert command.memberships == Memberships((CTX,), ("a", "b"), ("Z",), ())
    assert command.initial_password == InitialPassword(" spaced pw ", text_only=True)
    assert "spaced" not in repr(command)


def test_the_request_log_keeps_a_keyed_digest_of_the_password_not_the_password():
    payload = msg.create_party_registration("r1", "party-N", groups=["g"], password="pw-secret")
    secrets = (readers.INITIAL_PASSWORD,)

    logged = logged_body(payload, {}, secrets, b"k" * 32)

    assert b"pw-secret" not in logged and b"hmac-sha256:" in logged
    assert payload.findtext(f".//{readers.INITIAL_PASSWORD}") == "pw-secret"  # the request itself unchanged
    assert logged == logged_body(etree.fromstring(etree.tostring(payload)), {}, secrets, b"k" * 32)
    other = msg.create_party_registration("r1", "party-N", groups=["g"], password="pw-other")
    assert canonical_digest(logged) != canonical_digest(logged_body(other, {}, secrets, b"k" * 32))
    assert logged != logged_body(payload, {}, secrets, b"j" * 32)  # the key matters


def test_a_reply_never_echoes_a_password():
    uow = market()
    create_registration(CreateRegistration("party-N", Memberships.of([CTX]), InitialPassword("pw-N")), uow, ctx(credentials=Credentials()))
    listed = request_registration(RequestRegistration("party-N"), uow, ctx("party-N"))
    assert "pw-N" not in repr(listed)
    assert datetime(2029, 12, 31, 12, tzinfo=UTC) == listed.registrations[0].created_at
