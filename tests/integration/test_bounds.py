"""Values the schemas allow but the service cannot hold are the client's mistake, said where.

Every field of every operation, sent over its bound (README "Limits"), gets a Client fault or
an EI 400 naming the element; nothing of it is written and nothing is logged as an error.
"""

from __future__ import annotations

import logging

import pytest
from lxml import etree
from sqlalchemy import func, select

from service.domain.limits import MAX_TEXT_CHARS
from service.soap.ns import EMIX, MIN, STRM, TEMIX, WSU, q
from service.store.tables import distribution, distribution_recipient, position_change, request_log, tender, transaction
from tests.support import messages as msg
from tests.support import option_messages as opt

H10 = "2030-01-01T10:00:00Z"
LONG = "x" * 10_000
BUSINESS = (tender, transaction, position_change, distribution, distribution_recipient)


def buy():
    return msg.product(side="buy", state="transaction")


# operation -> (endpoint, a request that is answered 200 in ``world``, its extra headers)
REQUESTS = {
    "EiCreateTender": ("/EiTender", lambda: msg.create_tender("r-ct", "party-A", "party-B", ("t-new", msg.product(expires="2030-01-01T09:00:00Z"))), ()),
    "EiDistributeTender": ("/EiTender", lambda: msg.distribute_tender("r-dt", "party-A", ("t-dist", msg.product())), (msg.distribution_scope(groups=["north"]),)),
    "EiCancelTender": ("/EiTender", lambda: msg.cancel_tender("r-cx", "party-A", "t-standing"), ()),
    "EiRequestTender": ("/EiTender", lambda: msg.request_tender("r-rt", "party-A", ["party-B"], [msg.CTX], ["t-standing"], [f"{H10}/PT1H"]), ()),
    "EiCreateTransaction": ("/EiTransaction", lambda: msg.create_transaction("r-tx", "party-B", "party-A", ("x-new", "t-standing", buy())), ()),
    "EiRequestTransaction": ("/EiTransaction", lambda: msg.request_transaction("r-rx", "party-B", ["party-A"], [msg.CTX], ["opt-x"], [f"{H10}/PT1H"]), ()),
    "EiRequestPosition": ("/EiTransaction", lambda: msg.request_position("r-rp", "party-B", H10, "PT1H", "PT1H", [msg.CTX], "energy", "NODE-1"), ()),
    "EiExerciseOption": ("/EiTransaction", lambda: opt.exercise_option("r-ex", "party-B", "party-A", "opt-x", ("ex-1", H10, "PT1H", "1")), ()),
    "EiRequestEiMarketContext": ("/EiMarketContext", lambda: msg.request_market_context("r-mc", "party-A", msg.CTX), ()),
    "EiRequestBook": ("/EiTender", lambda: msg.request_book("r-rb", "party-A", msg.CTX, "energy", "NODE-1", None, H10, "PT1H", 5), ()),
}


@pytest.fixture
def world(service):
    """A standing tender t-standing of A to B, and a 10 kW call option opt-x that B holds."""
    for payload in (
        msg.create_tender("w1", "party-A", "party-B", ("t-standing", msg.product())),
        msg.create_tender("w2", "party-A", "party-B", ("opt-1", opt.option())),
        msg.create_transaction("w3", "party-B", "party-A", ("opt-x", "opt-1", opt.option(side="buy", state="transaction"))),
    ):
        reply = service.call("/EiTender" if payload.tag.endswith("Tender") else "/EiTransaction", payload)
        assert reply.code == "200", reply.description
    return service


@pytest.fixture(autouse=True)
def no_error_logged(caplog):
    """A client's mistake is no error of the service's: nothing at ERROR, no traceback."""
    caplog.set_level(logging.INFO)
    yield
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert errors == [], [r.getMessage() for r in errors]


def counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one() for t in (*BUSINESS, request_log)}


def leaves(payload: etree._Element) -> list[etree._Element]:
    return [element for element in payload.iter(etree.Element) if len(element) == 0]


def leaf_cases():
    for operation, (_, build, headers) in REQUESTS.items():
        payload = build()
        for index, leaf in enumerate(leaves(payload)):
            yield pytest.param(operation, "payload", index, id=f"{operation}-{etree.QName(leaf).localname}-{index}")
        for entry_index, entry in enumerate(headers):
            for index, leaf in enumerate(leaves(entry)):
                yield pytest.param(
                    operation, f"header{entry_index}", index, id=f"{operation}-{etree.QName(leaf).localname}-h{index}"
                )


def send(service, operation, payload, headers=(), token=None):
    endpoint, build, _ = REQUESTS[operation]
    sample = build()  # the sender, whatever the mutation did to the payload
    party = sample.findtext(".//{*}partyID") or sample.findtext(".//{*}requestorPartyID")
    token = token if token is not None else msg.username_token(party, service.passwords[party])
    return service.raw(endpoint, msg.envelope(payload, token, headers))


@pytest.mark.parametrize("operation", REQUESTS)
def test_each_unmutated_request_is_answered(world, operation):
    """The base of every case below is a good request: a refusal is the mutation's doing."""
    _, build, headers = REQUESTS[operation]
    reply = send(world, operation, build(), headers)
    assert not reply.is_fault and reply.code == "200", reply.body[:500]


@pytest.mark.parametrize(("operation", "where", "index"), list(leaf_cases()))
def test_a_10_kb_value_in_any_field_is_a_client_fault_naming_it(world, engine, operation, where, index):
    _, build, headers = REQUESTS[operation]
    payload, headers = build(), [copy for copy in (etree.fromstring(etree.tostring(h)) for h in headers)]
    root = payload if where == "payload" else headers[int(where.removeprefix("header"))]
    leaf = leaves(root)[index]
    leaf.text = LONG
    before = counts(engine)
    reply = send(world, operation, payload, headers)
    assert reply.is_fault and reply.faultcode.startswith("soap11env:Client."), reply.body[:500]
    assert etree.QName(leaf).localname in reply.faultstring
    assert counts(engine) == before


@pytest.mark.parametrize("part", ["Username", "Password", "Nonce", "Created"])
def test_a_10_kb_username_token_part_is_a_client_fault_naming_it(world, engine, part):
    token = msg.username_token("party-A", "secret-A", digest=True)
    next(e for e in token if etree.QName(e).localname == part).text = LONG
    before = counts(engine)
    reply = send(world, "EiCreateTender", REQUESTS["EiCreateTender"][1](), token=token)
    assert reply.faultcode == "soap11env:Client.ValueTooLong" and part in reply.faultstring
    assert str(MAX_TEXT_CHARS) in reply.faultstring
    assert counts(engine) == before


def _set(tag, text, nth=0):
    def mutate(payload):
        list(payload.iter(tag))[nth].text = text
    return mutate


HUGE = "1" + "0" * 120  # 10^120: a decimal the schema allows, in 121 characters
# (operation, mutation, the element the answer must name)
VALUE_CASES = {
    "tender quantity 10^120": ("EiCreateTender", _set(q(EMIX, "quantity"), HUGE), "quantity"),
    "tender quantity 10^-40": ("EiCreateTender", _set(q(EMIX, "quantity"), "0." + "0" * 39 + "1"), "quantity"),
    "tender price -10^120": ("EiCreateTender", _set(q(EMIX, "value"), "-" + HUGE), "value"),
    "tender expiring in year 10000 UTC": ("EiCreateTender", _set(q(EMIX, "expirationDate"), "9999-12-31T23:59:59-14:00"), "expirationDate"),
    "tender starting in year 0 UTC": ("EiCreateTender", _set(q(MIN, "dateTime"), "0001-01-01T00:00:00+14:00"), "dateTime"),
    "tender starting in 1899": ("EiCreateTender", _set(q(MIN, "dateTime"), "1899-12-31T23:00:00Z"), "dateTime"),
    "tender lasting P99999999Y": ("EiCreateTender", _set(q(MIN, "duration"), "P99999999Y"), "duration"),
    "tender lasting P7000Y": ("EiCreateTender", _set(q(MIN, "duration"), "P7000Y"), "duration"),
    "tender lasting PT99999999999999H": ("EiCreateTender", _set(q(MIN, "duration"), "PT99999999999999H"), "duration"),
    "distributed quantity 10^120": ("EiDistributeTender", _set(q(EMIX, "quantity"), HUGE), "quantity"),
    "transaction quantity 10^120": ("EiCreateTransaction", _set(q(EMIX, "quantity"), HUGE), "quantity"),
    "transaction price 10^120": ("EiCreateTransaction", _set(q(EMIX, "value"), HUGE), "value"),
    "tender filter from year 0 UTC": ("EiRequestTender", _set(q(STRM, "uid"), "0001-01-01T00:00:00+14:00/PT1H"), "uid"),
    "tender filter to year 10000 UTC": ("EiRequestTender", _set(q(STRM, "uid"), f"{H10}/9999-12-31T23:59:59-14:00"), "uid"),
    "tender filter of P99999999Y": ("EiRequestTender", _set(q(STRM, "uid"), f"{H10}/P99999999Y"), "uid"),
    "transaction filter from year 0 UTC": ("EiRequestTransaction", _set(q(STRM, "uid"), "0001-01-01T00:00:00+14:00/PT1H"), "uid"),
    "position window in year 10000 UTC": ("EiRequestPosition", _set(q(MIN, "dateTime"), "9999-12-31T23:59:59-14:00"), "dateTime"),
    "position window of P99999999Y": ("EiRequestPosition", _set(q(MIN, "duration"), "P99999999Y"), "duration"),
    "book window in year 10000 UTC": ("EiRequestBook", _set(q(MIN, "dateTime"), "9999-12-31T23:59:59-14:00"), "dateTime"),
    "book window of P99999999Y": ("EiRequestBook", _set(q(MIN, "duration"), "P99999999Y"), "duration"),
    "exercise quantity 10^120": ("EiExerciseOption", _set(q(EMIX, "quantity"), HUGE), "quantity"),
    "exercise in year 0 UTC": ("EiExerciseOption", _set(q(MIN, "dateTime"), "0001-01-01T00:00:00+14:00"), "dateTime"),
    "exercise lasting P99999999Y": ("EiExerciseOption", _set(q(MIN, "duration"), "P99999999Y"), "duration"),
}


@pytest.mark.parametrize("case", VALUE_CASES)
def test_a_value_beyond_the_limits_is_refused_naming_the_element(world, engine, case):
    operation, mutate, named = VALUE_CASES[case]
    _, build, headers = REQUESTS[operation]
    payload = build()
    mutate(payload)
    before = counts(engine)
    reply = send(world, operation, payload, headers)
    assert not reply.is_fault and reply.code == "400", reply.body[:500]
    assert named in reply.description
    after = counts(engine)
    assert {t.name: after[t.name] for t in BUSINESS} == {t.name: before[t.name] for t in BUSINESS}


def test_an_option_strike_beyond_the_limits_is_refused_naming_it(world, engine):
    option = opt.option(strike=HUGE)
    before = counts(engine)
    reply = world.call("/EiTender", msg.create_tender("r-big", "party-A", "party-B", ("opt-big", option)))
    assert reply.code == "400" and "optionStrikePrice" in reply.description
    assert counts(engine)["tender"] == before["tender"]


def test_a_created_in_year_10000_utc_is_an_authentication_fault(world, engine):
    token = msg.username_token("party-A", "secret-A", digest=True, created="9999-12-31T23:59:59-14:00")
    before = counts(engine)
    reply = send(world, "EiCreateTender", REQUESTS["EiCreateTender"][1](), token=token)
    assert reply.faultcode == "wsse:FailedAuthentication" and "Created" in reply.faultstring
    assert counts(engine) == before
    assert token.find(q(WSU, "Created")) is not None
