"""EiCreatePartyRegistration, EiRequestPartyRegistration, EiCancelPartyRegistration through the
whole stack, in-process, on the real PostgreSQL.

The ``service`` fixture's A, B and C are in CTX; R is a registrar. Registrars register,
everyone reads their own, a cancelled registration takes out what it added (later
distributions only), a refusal writes nothing, and no password reaches the request log.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from service.app import create_app
from service.auth.passwords import hash_password, load_or_create_key, open_secret, seal_secret, verify_password
from service.config import Settings
from service.soap.ns import EI, TEMIX, q
from service.store.parties import add_party, list_parties
from service.store.tables import metadata, party, request_log
from tests.support import messages as msg
from tests.support.soap import InProcessClient

CTX = msg.CTX
OTHER_CTX = "http://other.example/ctx"
REGISTRAR = "registrar-R"
NEW_PASSWORD = "new party's first secret"
WRITTEN = ("party", "party_market_context", "party_group", "party_service_area", "party_role", "registration",
           "registration_membership")


def serving(engine, tmp_path, clock, passwords, *, allow: bool) -> InProcessClient:
    settings = Settings.from_env(
        environ={}, data_dir=tmp_path, database_url="postgresql://unused/",
        allow_registrar_passwords=allow, allow_insecure_password=True,
    )
    return InProcessClient(create_app(settings, engine, clock=clock), passwords)


@pytest.fixture
def registry(service, engine, tmp_path, clock):
    """The service, with registrar R, letting registrars set passwords."""
    key = load_or_create_key(tmp_path / "secret.key")
    with engine.begin() as conn:
        add_party(conn, REGISTRAR, hash_password("secret-R"), seal_secret(key, "secret-R"), roles=["registrar"])
    return serving(engine, tmp_path, clock, {**service.passwords, REGISTRAR: "secret-R"}, allow=True)


def register(client, request_id, registree=None, as_party=REGISTRAR, **info):
    return client.call("/EiRegistration", msg.create_party_registration(request_id, registree, **info), as_party=as_party)


def cancel(client, request_id, registree, *ids, registrar=REGISTRAR, as_party=REGISTRAR):
    return client.call(
        "/EiRegistration", msg.cancel_party_registration(request_id, registrar, registree, *ids), as_party=as_party
    )


def listed(client, requestor, registree, **filters):
    reply = client.call(
        "/EiRegistration", msg.request_party_registration("read", requestor, registree, **filters), as_party=requestor
    )
    assert reply.code == "200", reply.description
    return reply.payload.findall(q(TEMIX, "registration"))


def memberships(engine, party_id):
    with engine.connect() as conn:
        return next(record for record in list_parties(conn) if record.party_id == party_id)


def snapshot(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {name: conn.execute(select(func.count()).select_from(metadata.tables[name])).scalar_one() for name in WRITTEN}


def test_a_registrar_enrols_a_party_and_gets_a_registration_id(registry, engine):
    reply = register(registry, "r1", "party-A", market_contexts=[OTHER_CTX], groups=["north"], areas=["ZONE-9"])

    assert reply.code == "200", reply.description
    assert reply.payload.findtext(q(EI, "registrarPartyID")) == REGISTRAR
    assert reply.payload.findtext(q(EI, "registreePartyID")) == "party-A"
    assert reply.payload.findtext(q(EI, "registrationID")).startswith("reg-")
    record = memberships(engine, "party-A")
    assert record.market_contexts == (CTX, OTHER_CTX)
    assert (record.groups, record.service_areas) == (("north",), ("ZONE-9",))


def test_a_retry_gets_the_same_answer_and_registers_once(registry, engine):
    first = register(registry, "r1", "party-A", groups=["north"])
    before = snapshot(engine)
    again = register(registry, "r1", "party-A", groups=["north"])

    assert again.body == first.body
    assert snapshot(engine) == before
    assert register(registry, "r1", "party-A", groups=["south"]).code == "463"


def test_a_registrar_creates_a_party_stored_as_temix_party_add_stores_it(registry, engine, tmp_path):
    reply = register(registry, "new", "party-N", market_contexts=[CTX], password=NEW_PASSWORD)

    assert reply.code == "200", reply.description
    with engine.connect() as conn:
        stored = conn.execute(select(party.c.password_hash, party.c.digest_secret).where(party.c.party_id == "party-N")).one()
    assert verify_password(NEW_PASSWORD, stored.password_hash)
    assert open_secret(load_or_create_key(tmp_path / "secret.key"), stored.digest_secret) == NEW_PASSWORD
    registry.passwords["party-N"] = NEW_PASSWORD  # PasswordDigest over zeep: tests/e2e/test_registration.py
    assert registry.call("/EiTender", msg.request_tender("q", "party-N")).code == "200"


def test_a_text_only_password_keeps_no_sealed_secret(registry, engine):
    assert register(registry, "new", "party-T", groups=["g"], password=NEW_PASSWORD, text_only=True).code == "200"
    with engine.connect() as conn:
        assert conn.execute(select(party.c.digest_secret).where(party.c.party_id == "party-T")).scalar_one() is None


def test_the_password_is_never_in_the_request_log(registry, engine):
    register(registry, "new", "party-N", market_contexts=[CTX], password=NEW_PASSWORD)
    register(registry, "again", "party-N", groups=["g"], password=NEW_PASSWORD)  # refused: 409, logged too
    assert register(registry, "new", "party-N", market_contexts=[CTX], password=NEW_PASSWORD).code == "200"
    assert register(registry, "new", "party-N", market_contexts=[CTX], password="another one").code == "463"

    with engine.connect() as conn:
        rows = conn.execute(select(request_log.c.request_body, request_log.c.response)).all()
        dumped = conn.execute(text("select string_agg(encode(request_body, 'escape'), '') from request_log")).scalar_one()
    assert len(rows) == 2
    assert NEW_PASSWORD.encode() not in b"".join(row.request_body + row.response for row in rows)
    assert NEW_PASSWORD not in dumped and "hmac-sha256:" in dumped


def test_an_existing_party_cannot_be_given_a_password(registry, engine):
    before = snapshot(engine)
    reply = register(registry, "r1", "party-A", groups=["g"], password=NEW_PASSWORD)

    assert reply.code == "409", reply.description
    assert snapshot(engine) == before


def test_passwords_are_refused_unless_the_server_allows_them(service, registry, engine, tmp_path, clock):
    closed = serving(engine, tmp_path, clock, registry.passwords, allow=False)
    before = snapshot(engine)
    reply = register(closed, "new", "party-N", market_contexts=[CTX], password=NEW_PASSWORD)

    assert reply.code == "403"
    assert "TEMIX_ALLOW_REGISTRAR_PASSWORDS" in reply.description
    assert snapshot(engine) == before
    assert register(closed, "known", "party-A", groups=["g"]).code == "200"  # memberships still work


@pytest.mark.parametrize(
    ("registree", "info", "code"),
    [
        ("party-Z", {"groups": ["g"]}, "404"),  # no such party, and no password to create it
        ("party-A", {"market_contexts": ["http://nowhere.example/ctx"]}, "462"),
        ("party-A", {"roles": ["registrar"]}, "403"),  # the operator's to give
        ("party-A", {"roles": ["astronaut"]}, "400"),
        ("party-A", {}, "400"),  # adds nothing
        (f"{CTX}#exchange", {"password": NEW_PASSWORD}, "403"),  # reserved: an exchange never authenticates
        (f"{CTX}#exchange", {"groups": ["g"]}, "403"),
    ],
)
def test_a_refused_registration_writes_nothing(registry, engine, registree, info, code):
    before = snapshot(engine)
    reply = register(registry, "bad", registree, **info)

    assert reply.code == code, reply.description
    assert snapshot(engine) == before


def test_a_party_that_is_no_registrar_may_not_register_even_itself(registry, engine):
    before = snapshot(engine)
    for registree in ("party-A", None, "party-B"):
        reply = register(registry, f"self-{registree}", registree, as_party="party-A", groups=["g"])
        assert reply.code == "403", reply.description
        assert "registrar" in reply.description
    assert snapshot(engine) == before


def test_a_party_reads_its_own_registrations_and_a_registrar_anyones(registry):
    first = register(registry, "r1", "party-A", groups=["north"]).payload.findtext(q(EI, "registrationID"))
    register(registry, "r2", "party-B", groups=["north"])

    mine = listed(registry, "party-A", "party-A")
    assert [item.findtext(q(EI, "registrationID")) for item in mine] == [first]
    assert mine[0].findtext(f"{q(TEMIX, 'registrationInfo')}/{q(TEMIX, 'group')}") == "north"
    assert len(listed(registry, REGISTRAR, "party-B")) == 1
    assert listed(registry, "party-A", "party-A", registration_ids=["reg-other"]) == []
    refused = registry.call(
        "/EiRegistration", msg.request_party_registration("peek", "party-A", "party-B"), as_party="party-A"
    )
    assert refused.code == "403"


def test_the_requestor_must_be_the_authenticated_party(registry):
    reply = registry.call(
        "/EiRegistration", msg.request_party_registration("peek", REGISTRAR, "party-A"), as_party="party-A"
    )
    assert reply.is_fault and reply.faultcode.endswith("NotAuthorized")


def test_cancelling_takes_out_what_the_registration_added_and_nothing_else(registry, engine):
    # A is in CTX already: the registration adds OTHER_CTX and group north only.
    registration = register(registry, "r1", "party-A", market_contexts=[CTX, OTHER_CTX], groups=["north"])
    registration_id = registration.payload.findtext(q(EI, "registrationID"))

    reply = cancel(registry, "c1", "party-A", registration_id)

    assert reply.code == "200", reply.description
    assert reply.payload.findtext(q(EI, "respondingPartyID")) == REGISTRAR
    record = memberships(engine, "party-A")
    assert (record.market_contexts, record.groups) == ((CTX,), ())
    assert cancel(registry, "c1", "party-A", registration_id).body == reply.body  # a retry
    assert cancel(registry, "c2", "party-A", registration_id).code == "410"
    shown = listed(registry, "party-A", "party-A")
    assert shown[0].findtext(q(TEMIX, "canceledDateTime"))


def test_cancelling_is_all_or_none_and_for_registrars_speaking_as_themselves(registry, engine):
    registration_id = register(registry, "r1", "party-A", groups=["north"]).payload.findtext(q(EI, "registrationID"))
    before = snapshot(engine)

    assert cancel(registry, "c1", "party-A", registration_id, "reg-unknown").code == "404"
    assert cancel(registry, "c2", "party-B", registration_id).code == "404"  # not B's
    assert cancel(registry, "c3", "party-A", registration_id, as_party="party-A", registrar="party-A").code == "403"
    assert cancel(registry, "c4", "party-A", registration_id, registrar="party-A").code == "403"
    assert snapshot(engine) == before
    assert memberships(engine, "party-A").groups == ("north",)


def test_a_cancelled_registration_affects_later_distributions_only(registry, engine):
    registry.passwords["party-N"] = NEW_PASSWORD
    registration_id = register(
        registry, "r1", "party-N", market_contexts=[OTHER_CTX], password=NEW_PASSWORD
    ).payload.findtext(q(EI, "registrationID"))
    before = msg.product(market_context=OTHER_CTX)
    sent = registry.call("/EiTender", msg.distribute_tender("d1", "party-A", ("early", before)))
    assert sent.code == "200", sent.description

    assert cancel(registry, "c1", "party-N", registration_id).code == "200"

    later = registry.call("/EiTender", msg.distribute_tender("d2", "party-A", ("late", msg.product(market_context=OTHER_CTX))))
    assert later.code == "404"  # nobody left in OTHER_CTX
    seen = registry.call("/EiTender", msg.request_tender("q", "party-N"))
    assert [t.findtext(q(EI, "tenderID")) for t in seen.payload.iter(q(EI, "eiTender"))] == ["early"]


def test_a_role_given_by_the_operator_counts_at_the_next_request(registry, engine):
    assert register(registry, "r1", "party-B", as_party="party-A", groups=["g"]).code == "403"
    with engine.begin() as conn:
        from service.store.parties import Memberships, enroll

        enroll(conn, "party-A", Memberships.of(roles=["registrar"]))
    assert register(registry, "r2", "party-B", as_party="party-A", groups=["g"]).code == "200"


def test_registrations_and_their_cancellations_are_in_the_audit_trail(registry, engine):
    registration_id = register(registry, "r1", "party-A", groups=["north"]).payload.findtext(q(EI, "registrationID"))
    assert cancel(registry, "c1", "party-A", registration_id).code == "200"
    assert register(registry, "r2", "party-A", groups=["south"], as_party="party-B").code != "200"  # refused

    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT actor, request_id, kind, party_id, details FROM audit_event"
            " WHERE kind LIKE 'registration.%' ORDER BY id"
        )).all()
    assert [(r.actor, r.request_id, r.kind, r.party_id) for r in rows] == [
        (REGISTRAR, "r1", "registration.created", "party-A"),
        (REGISTRAR, "c1", "registration.cancelled", "party-A"),
    ]
    assert rows[0].details == {"registration_id": registration_id, "party_created": False, "groups": ["north"]}
    assert rows[1].details == {"registration_id": registration_id}
