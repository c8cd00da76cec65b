"""The two SOAP layers (TEMIX_SOAP_STACK=lxml, the default, and spyne) answer alike.

spyne is an optional extra (Python 3.11 only): without it these are skipped, saying why."""

from __future__ import annotations

import pytest
from lxml import etree

from service.app import create_app
from service.config import Settings
from service.soap.ns import EI, SOAP11_ENV, q
from tests.support import messages as msg
from tests.support.service import PARTIES, service  # noqa: F401  (fixture)
from tests.support.soap import InProcessClient

pytest.importorskip("spyne", reason="spyne does not import: the spyne extra is not installed (pip install -e '.[spyne]', Python 3.11 only)")


@pytest.fixture
def both(service, engine, clock, tmp_path):  # noqa: F811
    """(lxml client, spyne client) on the same database, parties, server key and clock."""
    settings = Settings.from_env(environ={}, data_dir=tmp_path, database_url="postgresql://unused/", soap_stack="spyne", allow_insecure_password=True)
    return service, InProcessClient(create_app(settings, engine, clock=clock), PARTIES)


def body_child(reply) -> str:
    """The Body's only child in C14N 2.0 with rewritten prefixes (spyne writes tns:)."""
    return etree.canonicalize(etree.tostring(reply.payload, encoding="unicode"), rewrite_prefixes=True)


def fault(reply) -> tuple[int, str, str]:
    found = etree.fromstring(reply.body).find(f"{q(SOAP11_ENV, 'Body')}/{q(SOAP11_ENV, 'Fault')}")
    return reply.status, found.findtext("faultcode").rpartition(":")[2], found.findtext("faultstring")


def test_both_stacks_give_the_same_answers(both):
    lxml_client, spyne_client = both
    tender = msg.create_tender("r1", "party-A", "party-B", ("t1", msg.product()))
    first = lxml_client.call("/EiTender", tender)
    assert first.code == "200"
    assert body_child(spyne_client.call("/EiTender", tender)) == body_child(first)  # the logged answer
    listed = [client.call("/EiTender", msg.request_tender("q1", "party-B")) for client in both]
    assert body_child(listed[0]) == body_child(listed[1])
    assert len(listed[0].payload.findall(q(EI, "eiTender"))) == 1


@pytest.mark.parametrize(
    "envelope",
    [
        b"<not-xml",
        b'<?xml version="1.0"?><x:Envelope xmlns:x="urn:not-soap"/>',
        msg.envelope(msg.create_tender("r1", "party-A", "party-B", ("t1", msg.product())),
                     msg.username_token("party-A", "wrong password")),
        msg.envelope(msg.create_tender("r1", "party-A", "party-B", ("t1", msg.product())),
                     msg.username_token("party-A", "secret-A"), headers=[msg.wsa_action(mustUnderstand="1")]),
        b'<?xml version="1.0"?><x:Envelope xmlns:x="http://www.w3.org/2003/05/soap-envelope"/>',
    ],
    ids=["malformed", "unknown envelope namespace", "bad password", "unknown mustUnderstand header", "SOAP 1.2"],
)
def test_both_stacks_refuse_alike(both, envelope):
    lxml_reply, spyne_reply = (client.raw("/EiTender", envelope) for client in both)
    assert fault(lxml_reply) == fault(spyne_reply)
    assert lxml_reply.status == 500
