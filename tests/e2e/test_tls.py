"""Transport security and the credential lifecycle, against real `temix serve` processes over
real TLS: a throwaway CA made here (tests/support/tls.py), client certificates bound to
parties, PasswordText refused over plain HTTP, `temix party disable|enable|passwd|cert` and
`temix secret rotate` while serving.

The mutual-TLS server runs with TEMIX_CREDENTIAL_CACHE=0, so every change is seen by the next
request (the cache time itself is tests/integration/test_credentials_cache.py's).
"""

from __future__ import annotations

import ssl
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import zeep
from lxml import etree
from zeep.transports import Transport as ZeepTransport
from zeep.wsse.username import UsernameToken

from service.client import SubstitutionPlugin
from service.soap.ns import EI, q
from tests.support import messages
from tests.support.server import CTX, Server, running_server
from tests.support.soap import Reply, check_reply
from tests.support.tls import Identity, Pki

XML = {"Content-Type": "text/xml; charset=utf-8"}
WSDL_ADDRESS = "{http://schemas.xmlsoap.org/wsdl/soap/}address"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Pki:
    pki = Pki.make(tmp_path_factory.mktemp("pki"))
    pki.server  # noqa: B018 - made before the servers start
    return pki


@pytest.fixture(scope="module")
def mtls(pki) -> Iterator[Server]:
    """HTTPS with client certificates: the gunicorn front (the default with --client-ca)."""
    args = ("--certfile", str(pki.server.cert), "--keyfile", str(pki.server.key), "--client-ca", str(pki.ca_cert))
    with running_server(*args, ca_file=pki.ca_cert, env={"TEMIX_CREDENTIAL_CACHE": "0"}) as running:
        yield running


class Caller:
    """POSTs envelopes over HTTPS, trusting the test CA, with a client certificate or none."""

    def __init__(self, server: Server, pki: Pki, identity: Identity | None = None):
        self.server, self.pki, self.identity = server, pki, identity

    def post(self, path: str, payload, token=None) -> Reply:
        cert = (str(self.identity.cert), str(self.identity.key)) if self.identity else None
        response = requests.post(
            f"{self.server.base_url}/{path}", data=messages.envelope(payload, token), headers=XML,
            verify=str(self.pki.ca_cert), cert=cert, timeout=60,
        )
        return check_reply(Reply(response.status_code, response.content))

    def standing(self, party: str, token=None, tender_ids=()) -> Reply:
        return self.post("EiTender", messages.request_tender(unique("req"), party, tender_ids=tender_ids), token)


def text_token(party: str, password: str):
    return messages.username_token(party, password)


def tender_to(caller: Caller, party: str, password: str, counterparty: str) -> str:
    tender_id = unique("tender")
    payload = messages.create_tender(unique("req"), party, counterparty, (tender_id, messages.product(uid=unique("p"))))
    reply = caller.post("EiTender", payload, text_token(party, password))
    assert reply.code == "200", reply.description
    return tender_id


def tender_ids(reply: Reply) -> list[str]:
    return [element.text for element in reply.payload.iter(q(EI, "tenderID"))]


def add_parties(server: Server, *names: str) -> list[str]:
    ids = [unique(name) for name in names]
    for party_id in ids:
        server.add_party(party_id, f"pw-{party_id}", market_contexts=(CTX,))
    return ids


# --- HTTPS and PasswordText -----------------------------------------------------------------


def test_password_text_is_accepted_over_https_from_a_client_without_a_certificate(mtls, pki):
    (party,) = add_parties(mtls, "text")
    reply = Caller(mtls, pki).standing(party, text_token(party, f"pw-{party}"))
    assert reply.code == "200", reply.description


def test_zeep_loads_the_wsdl_over_https_and_calls_the_https_address_it_names(mtls, pki):
    (party,) = add_parties(mtls, "zeep")
    session = requests.Session()
    session.verify = str(pki.ca_cert)
    session.trust_env = False  # else REQUESTS_CA_BUNDLE, if set, overrides session.verify
    client = zeep.Client(
        f"{mtls.base_url}/EiTender?wsdl", settings=zeep.Settings(strict=True),
        transport=ZeepTransport(session=session), wsse=UsernameToken(party, f"pw-{party}"),
        plugins=[SubstitutionPlugin()],
    )
    address = client.wsdl.services["EiTenderService"].ports["EiTenderSoap11Port"].binding_options["address"]
    assert address == f"{mtls.base_url}/EiTender"
    reply = client.service.EiRequestTender(requestID=unique("req"), partyID=party, requestorPartyID=party)
    assert reply.eiResponse.responseCode == "200", reply.eiResponse.responseDescription


def test_a_client_certificate_the_client_ca_did_not_sign_is_refused_at_the_handshake(mtls, pki, tmp_path):
    stranger = Pki.make(tmp_path / "other-ca", name="another CA").client("stranger")
    (party,) = add_parties(mtls, "stranger")
    with pytest.raises(requests.exceptions.SSLError):
        Caller(mtls, pki, stranger).standing(party, text_token(party, f"pw-{party}"))


def test_a_client_speaking_tls_1_2_at_most_is_served(mtls, pki):
    context = pki.client_context()
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    with context.wrap_socket(_connect(mtls), server_hostname="127.0.0.1") as connection:
        assert connection.version() == "TLSv1.2"


def _connect(server: Server):
    import socket

    host, port = server.base_url.removeprefix("https://").split(":")
    return socket.create_connection((host, int(port)), timeout=30)


# --- mutual TLS -----------------------------------------------------------------------------


def test_a_bound_certificate_alone_authenticates_a_party_that_does_not_require_wssecurity(mtls, pki):
    (party,) = add_parties(mtls, "device")
    device = pki.client(party)
    mtls.temix("party", "cert", "add", party, "--pem", str(device.cert))
    mtls.temix("party", "set", party, "--require-wssecurity", "no")

    reply = Caller(mtls, pki, device).standing(party)

    assert reply.code == "200", reply.description


def test_a_bound_certificate_of_a_party_requiring_wssecurity_needs_its_username_token_too(mtls, pki):
    (party,) = add_parties(mtls, "strict")
    identity = pki.client(party)
    mtls.temix("party", "cert", "add", party, "--fingerprint", _colons(identity.fingerprint))
    caller = Caller(mtls, pki, identity)

    refused = caller.standing(party)
    accepted = caller.standing(party, text_token(party, f"pw-{party}"))

    assert refused.faultcode == "wsse:FailedAuthentication"
    assert f"party {party!r}, whose client certificate this is, requires a WS-Security UsernameToken" in refused.faultstring
    assert accepted.code == "200", accepted.description


def test_a_certificate_bound_to_one_party_never_acts_for_another(mtls, pki):
    owner, other = add_parties(mtls, "owner", "other")
    identity = pki.client(owner)
    mtls.temix("party", "cert", "add", owner, "--pem", str(identity.cert))
    mtls.temix("party", "set", owner, "--require-wssecurity", "no")

    reply = Caller(mtls, pki, identity).standing(other, text_token(other, f"pw-{other}"))

    assert reply.faultcode == "soap11env:Client.NotAuthorized"
    assert f"bound to party {owner!r} but the UsernameToken names {other!r}" in reply.faultstring


def test_an_unbound_certificate_gives_no_identity(mtls, pki):
    (party,) = add_parties(mtls, "unbound")
    caller = Caller(mtls, pki, pki.client(unique("nobody")))

    without_token = caller.standing(party)
    with_token = caller.standing(party, text_token(party, f"pw-{party}"))

    assert without_token.faultcode == "wsse:FailedAuthentication"
    assert "a WS-Security UsernameToken is required" in without_token.faultstring
    assert with_token.code == "200", with_token.description


def test_a_removed_binding_no_longer_authenticates(mtls, pki):
    (party,) = add_parties(mtls, "removed")
    identity = pki.client(party)
    mtls.temix("party", "cert", "add", party, "--pem", str(identity.cert))
    mtls.temix("party", "set", party, "--require-wssecurity", "no")
    caller = Caller(mtls, pki, identity)
    assert caller.standing(party).code == "200"
    assert identity.fingerprint in mtls.temix("party", "cert", "list", party)

    mtls.temix("party", "cert", "remove", party, identity.fingerprint)

    reply = caller.standing(party)
    assert reply.faultcode == "wsse:FailedAuthentication"
    assert identity.fingerprint not in mtls.temix("party", "cert", "list")


# --- the credential lifecycle ---------------------------------------------------------------


def test_a_disabled_party_authenticates_nowhere_and_its_standing_tenders_are_cancelled(mtls, pki):
    seller, buyer = add_parties(mtls, "leaving", "buyer")
    identity = pki.client(seller)
    mtls.temix("party", "cert", "add", seller, "--pem", str(identity.cert))
    mtls.temix("party", "set", seller, "--require-wssecurity", "no")
    plain, device = Caller(mtls, pki), Caller(mtls, pki, identity)
    tender_id = tender_to(plain, seller, f"pw-{seller}", buyer)
    buyer_token = text_token(buyer, f"pw-{buyer}")
    assert tender_ids(plain.standing(buyer, buyer_token, [tender_id])) == [tender_id]

    said = mtls.temix("party", "disable", seller)

    assert f"1 standing tender(s) cancelled: {tender_id}" in said
    by_password = plain.standing(seller, text_token(seller, f"pw-{seller}"))
    by_certificate = device.standing(seller)
    assert by_password.faultcode == by_certificate.faultcode == "wsse:FailedAuthentication"
    assert tender_ids(plain.standing(buyer, text_token(buyer, f"pw-{buyer}"), [tender_id])) == []

    mtls.temix("party", "enable", seller)

    assert device.standing(seller).code == "200"
    assert plain.standing(seller, text_token(seller, f"pw-{seller}")).code == "200"
    # enabling does not revive the cancelled tender
    assert tender_ids(plain.standing(buyer, text_token(buyer, f"pw-{buyer}"), [tender_id])) == []


def test_passwd_replaces_a_password_for_password_text_and_password_digest(mtls, pki):
    (party,) = add_parties(mtls, "passwd")
    caller = Caller(mtls, pki)

    mtls.temix("party", "passwd", party, "--password-stdin", stdin="a new one\n")

    assert caller.standing(party, text_token(party, f"pw-{party}")).faultcode == "wsse:FailedAuthentication"
    assert caller.standing(party, text_token(party, "a new one")).code == "200"
    assert caller.standing(party, messages.username_token(party, "a new one", digest=True)).code == "200"


def test_secret_rotate_while_serving_keeps_password_digest_working(mtls, pki):
    before, = add_parties(mtls, "rotated")
    caller = Caller(mtls, pki)
    key_file = mtls.data_dir / "secret.key"
    old_key = key_file.read_bytes()
    # every worker has loaded the old key and opened this party's secret with it
    for _ in range(4):
        assert caller.standing(before, messages.username_token(before, f"pw-{before}", digest=True)).code == "200"

    said = mtls.temix("secret", "rotate")

    assert "re-sealed under it" in said
    assert key_file.read_bytes() != old_key
    assert not Path(f"{key_file}.previous").exists()
    (after,) = add_parties(mtls, "sealed-after")
    for _ in range(4):  # the running workers meet secrets sealed under a key they did not load
        for party in (before, after):
            reply = caller.standing(party, messages.username_token(party, f"pw-{party}", digest=True))
            assert reply.code == "200", reply.faultstring if reply.is_fault else reply.description


def _colons(fingerprint: str) -> str:
    """As ``openssl x509 -noout -fingerprint -sha256`` prints it."""
    return ":".join(fingerprint[i : i + 2] for i in range(0, 64, 2)).upper()


# --- the granian front, and plain HTTP --------------------------------------------------------


def test_the_granian_front_serves_https_and_the_wsdl_names_its_https_address(pki):
    args = ("--certfile", str(pki.server.cert), "--keyfile", str(pki.server.key))
    with running_server(*args, ca_file=pki.ca_cert) as server:
        (party,) = add_parties(server, "granian")
        caller = Caller(server, pki)
        wsdl = requests.get(f"{server.base_url}/EiTransaction?wsdl", verify=str(pki.ca_cert), timeout=30)
        context = pki.client_context()
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        with context.wrap_socket(_connect(server), server_hostname="127.0.0.1") as connection:
            version = connection.version()

        reply = caller.standing(party, text_token(party, f"pw-{party}"))

    assert reply.code == "200", reply.description
    assert version == "TLSv1.2"
    (address,) = etree.fromstring(wsdl.content).iter(WSDL_ADDRESS)
    assert address.get("location") == f"{server.base_url}/EiTransaction"


def _plain_post(server: Server, party: str, token) -> Reply:
    payload = messages.request_tender(unique("req"), party)
    response = requests.post(f"{server.base_url}/EiTender", data=messages.envelope(payload, token), headers=XML, timeout=60)
    return check_reply(Reply(response.status_code, response.content))


def test_password_text_over_plain_http_is_refused_unless_the_operator_allows_it(server):
    with running_server() as strict:
        (party,) = add_parties(strict, "plain")
        text = _plain_post(strict, party, text_token(party, f"pw-{party}"))
        digest = _plain_post(strict, party, messages.username_token(party, f"pw-{party}", digest=True))
    (local,) = add_parties(server, "allowed")  # the e2e server runs with --allow-insecure-password
    allowed = _plain_post(server, local, text_token(local, f"pw-{local}"))

    assert text.faultcode == "soap11env:Client.InsecureTransport"
    assert "PasswordText over plain HTTP is refused" in text.faultstring
    assert digest.code == "200", digest.description
    assert allowed.code == "200", allowed.description
