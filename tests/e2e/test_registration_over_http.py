"""zeep against the running service's /EiRegistration: a registrar (made with
``temix party add-registrar``) creates a party with its first password, the party trades
with it (PasswordDigest), both read the registration, the registrar cancels it.
"""

from __future__ import annotations

import subprocess
import uuid

import zeep
from zeep.wsse.username import UsernameToken

from service.client import SubstitutionPlugin, substitute
from tests.support.server import CTX, temix_command, temix_env


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def client(server, endpoint: str, party_id: str, password: str):
    return zeep.Client(
        f"{server.base_url}/{endpoint}?wsdl", settings=zeep.Settings(strict=True),
        wsse=UsernameToken(party_id, password, use_digest=True), plugins=[SubstitutionPlugin()],
    )


def add_registrar(server) -> tuple[str, str]:
    registrar = unique("registrar")
    done = subprocess.run(
        temix_command("party", "add-registrar", registrar, "--data-dir", str(server.data_dir)),
        capture_output=True, text=True, env=temix_env(), cwd=server.data_dir, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    password = next(line for line in done.stdout.splitlines() if line.startswith("password: "))
    return registrar, password.removeprefix("password: ")


def test_a_registrar_registers_reads_and_cancels_a_party_over_zeep(server):
    registrar, password = add_registrar(server)
    registry = client(server, "EiRegistration", registrar, password)
    newcomer, newcomer_password = unique("newcomer"), uuid.uuid4().hex
    info = substitute(registry, "temix:registrationInfo", marketContext=[CTX], group=["zeep"],
                      initialPassword=newcomer_password)

    created = registry.service.EiCreatePartyRegistration(
        requestID=unique("req"), registreePartyID=newcomer, eiRegistrationInfo=info
    )
    assert created.eiResponse.responseCode == "200", created.eiResponse.responseDescription
    assert (created.registrarPartyID, created.registreePartyID) == (registrar, newcomer)
    registration_id = created.registrationID

    own = client(server, "EiRegistration", newcomer, newcomer_password)
    mine = own.service.EiRequestPartyRegistration(
        requestID=unique("req"), registreePartyID=newcomer, requestorPartyID=newcomer
    )
    assert mine.eiResponse.responseCode == "200"
    [shown] = mine.eiRegistration
    assert shown.registrationID == registration_id and shown.registrarPartyID == registrar
    assert list(shown.eiRegistrationInfo.marketContext) == [CTX]
    assert list(shown.eiRegistrationInfo.group) == ["zeep"]
    assert shown.eiRegistrationInfo.initialPassword is None
    tenders = client(server, "EiTender", newcomer, newcomer_password)
    read = tenders.service.EiRequestTender(requestID=unique("req"), partyID=newcomer, requestorPartyID=newcomer)
    assert read.eiResponse.responseCode == "200"

    cancelled = registry.service.EiCancelPartyRegistration(
        requestID=unique("req"), registreePartyID=newcomer, registrarPartyID=registrar,
        registrationID=[registration_id],
    )
    assert cancelled.eiResponse[0].responseCode == "200"
    assert (cancelled.respondingPartyID, cancelled.registreePartyID) == (registrar, newcomer)
    after = registry.service.EiRequestPartyRegistration(
        requestID=unique("req"), registreePartyID=newcomer, requestorPartyID=registrar
    )
    assert after.eiRegistration[0].canceledDateTime is not None


def test_a_party_that_is_no_registrar_is_refused_with_403(server):
    party_id = unique("plain")
    server.add_party(party_id, "pw-plain", market_contexts=(CTX,))
    plain = client(server, "EiRegistration", party_id, "pw-plain")
    reply = plain.service.EiCreatePartyRegistration(
        requestID=unique("req"), eiRegistrationInfo=substitute(plain, "temix:registrationInfo", group=["g"])
    )
    assert reply.eiResponse.responseCode == "403"
    assert reply.registreePartyID == party_id
