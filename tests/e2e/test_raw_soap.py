"""Raw SOAP envelopes over HTTP against the running service (`temix serve`: granian, 2 workers).

Includes the acceptance race through the real server: many clients, two worker processes,
the same tenders; the totals must be exact.
"""

from __future__ import annotations

import socket
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
import requests

from service.soap.ns import EI, EMIX, q
from tests.support import messages as msg
from tests.support.soap import Reply, check_reply

CTX = "http://market.example.com/temix/ctx1"


@pytest.fixture(scope="module")
def pair(server):
    """Two fresh parties on the shared server: (seller, buyer), password = id."""
    seller, buyer = f"seller-{uuid.uuid4().hex[:6]}", f"buyer-{uuid.uuid4().hex[:6]}"
    for party in (seller, buyer):
        server.add_party(party, party)
    return seller, buyer


def post(server, path, payload, party=None, session=None) -> Reply:
    party = party or payload.findtext(q(EI, "partyID"))
    data = msg.envelope(payload, msg.username_token(party, party, digest=True))
    answer = (session or requests).post(
        f"{server.base_url}{path}", data=data, headers={"Content-Type": "text/xml; charset=utf-8"}, timeout=30
    )
    return check_reply(Reply(answer.status_code, answer.content))


def test_wsdls_and_schemas_are_served_over_http(server):
    wsdl = requests.get(f"{server.base_url}/EiTransaction?wsdl", timeout=10)
    assert wsdl.status_code == 200
    assert f'location="{server.base_url}/EiTransaction"'.encode() in wsdl.content
    for path in ("/oasis/cts-xsd/EiPayloads.xsd", "/oasis/cts-xsd/ws-calendar-min-v1.0.xsd", "/temix-ext.xsd"):
        assert requests.get(f"{server.base_url}{path}", timeout=10).status_code == 200


def test_malformed_and_hostile_xml_get_faults_over_http(server):
    for body, code in [
        (b"<soap:Envelope", "Client.MalformedXml"),
        (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>', "Client.ForbiddenXml"),
    ]:
        answer = requests.post(f"{server.base_url}/EiTender", data=body, headers={"Content-Type": "text/xml"}, timeout=10)
        reply = check_reply(Reply(answer.status_code, answer.content))
        assert reply.status == 500 and reply.faultcode.endswith(code)


def test_oversize_body_is_refused_with_or_without_content_length(server):
    big = b"<x>" + b"a" * (2 * 1024 * 1024 + 10) + b"</x>"
    with_length = requests.post(f"{server.base_url}/EiTender", data=big, headers={"Content-Type": "text/xml"}, timeout=30)
    assert with_length.status_code == 413
    chunked = requests.post(
        f"{server.base_url}/EiTender", data=(big[i : i + 65536] for i in range(0, len(big), 65536)),
        headers={"Content-Type": "text/xml"}, timeout=30,
    )
    assert chunked.status_code == 413
    assert b"RequestTooLarge" in chunked.content


def test_client_transport_conventions_chunked_body_and_expect_continue(server, pair):
    """Java CXF sends bodies over 4 KB chunked; .NET sends Expect: 100-continue and waits."""
    seller, buyer = pair
    first, second = (f"t-{uuid.uuid4().hex[:8]}" for _ in range(2))
    data = msg.envelope(
        msg.create_tender(f"r-{first}", seller, buyer, (first, msg.product())), msg.username_token(seller, seller)
    )
    chunked = requests.post(
        f"{server.base_url}/EiTender", data=(data[i : i + 500] for i in range(0, len(data), 500)),
        headers={"Content-Type": "text/xml; charset=UTF-8", "SOAPAction": '""'}, timeout=30,
    )
    assert check_reply(Reply(chunked.status_code, chunked.content)).code == "200"

    data = msg.envelope(
        msg.create_tender(f"r-{second}", seller, buyer, (second, msg.product())), msg.username_token(seller, seller)
    )
    host, port = server.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(
            f"POST /EiTender HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: text/xml; charset=utf-8\r\n"
            f'SOAPAction: "EiCreateTender"\r\nExpect: 100-continue\r\nContent-Length: {len(data)}\r\n\r\n'.encode()
        )
        assert sock.recv(64).startswith(b"HTTP/1.1 100 Continue")  # before any byte of the body
        sock.sendall(data)
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += sock.recv(65536)
        head, _, body = answer.partition(b"\r\n\r\n")
        length = int(next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")).split(b":")[1])
        while len(body) < length:  # the connection stays open (keep-alive): read what was announced
            body += sock.recv(65536)
    assert head.startswith(b"HTTP/1.1 200")
    assert check_reply(Reply(200, body)).code == "200"


def test_every_operation_answers_a_valid_reply(server, pair):
    seller, buyer = pair
    tid = f"t-{uuid.uuid4().hex[:8]}"
    assert post(server, "/EiTender", msg.create_tender(f"r-{tid}", seller, buyer, (tid, msg.product()))).code == "200"
    assert post(server, "/EiTender", msg.request_tender(f"q-{tid}", buyer, tender_ids=[tid])).payload.find(q(EI, "eiTender")) is not None
    accepted = post(server, "/EiTransaction", msg.create_transaction(f"a-{tid}", buyer, seller, (f"x-{tid}", tid, msg.product(side="buy", quantity="4", state="transaction"))))
    assert accepted.code == "200"
    listed = post(server, "/EiTransaction", msg.request_transaction(f"l-{tid}", seller, transaction_ids=[f"x-{tid}"]))
    assert listed.payload.findtext(f".//{q(EMIX, 'side')}") == "sell"
    position = post(server, "/EiTransaction", msg.request_position(f"p-{tid}", buyer, "2030-01-01T10:00:00Z", "PT1H", "PT15M"))
    assert position.code == "200"
    assert post(server, "/EiTender", msg.cancel_tender(f"c-{tid}", seller, tid)).code == "200"
    distributed = post(server, "/EiTender", msg.distribute_tender(f"d-{tid}", seller, (f"{tid}-d", msg.product())))
    assert distributed.code in ("200", "404")  # 404: nobody else enrolled in CTX on this server


def test_concurrent_acceptances_through_the_server_never_overfill(server, pair):
    seller, buyer = pair
    tenders = {f"race-{uuid.uuid4().hex[:6]}-{i}": Decimal(q_) for i, q_ in enumerate(("10", "7.5", "3"))}
    created = post(server, "/EiTender", msg.create_tender(f"r-race-{uuid.uuid4().hex[:6]}", seller, buyer, *[(t, msg.product(quantity=str(qty))) for t, qty in tenders.items()]))
    assert created.code == "200"
    names = list(tenders)

    def attempt(i: int) -> tuple[str, Decimal, str]:
        tender_id = names[i % len(names)]
        take = Decimal("1.25") if i % 3 else Decimal("2")
        with requests.Session() as session:
            reply = post(server, "/EiTransaction", msg.create_transaction(f"race-a-{tender_id}-{i}", buyer, seller, (f"race-x-{tender_id}-{i}", tender_id, msg.product(side="buy", quantity=str(take), state="transaction"))), session=session)
        return tender_id, take, reply.code

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(attempt, range(120)))

    assert {code for _, _, code in results} <= {"200", "460", "410"}
    accepted = {t: sum(take for tid, take, code in results if tid == t and code == "200") for t in names}
    for tender_id, offered in tenders.items():
        assert accepted[tender_id] <= offered
        left = post(server, "/EiTender", msg.request_tender(f"q-{tender_id}", buyer, tender_ids=[tender_id]))
        shown = left.payload.findtext(f".//{q(EMIX, 'quantity')}")
        assert Decimal(shown or "0") == offered - accepted[tender_id]
    listed = post(server, "/EiTransaction", msg.request_transaction(f"l-race-{uuid.uuid4().hex[:6]}", buyer, counterparties=[seller]))
    total = sum(Decimal(e.text) for e in listed.payload.iter(q(EMIX, "quantity")))
    assert total >= sum(accepted.values())  # plus this pair's other trades
    server.temix("db", "check-positions")
