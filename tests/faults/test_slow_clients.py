"""Slow, stalled and oversized clients against the real ``temix serve`` (granian front).

Requirement (issue 11): 50 clients trickling their bodies or headers do not delay an ordinary
request beyond 100 ms; a client that stalls mid-head or mid-body is dropped after its deadline
(TEMIX_HEADER_TIMEOUT, TEMIX_BODY_TIMEOUT); HTTP/1.1 keep-alive works; the 2 MiB limit answers
413 for a Content-Length and a chunked body alike, without the front reading the rest.
The 100 ms bound is asserted generously (the machine is shared); the figures go to bench/.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from tests.support import messages as msg
from tests.support.server import Server, running_server
from tests.support.soap import Reply, check_reply

SLOW_CLIENTS = 50  # half trickle their head, half their body
TRICKLE_SECONDS = 12
# The requirement is 100 ms; a front that slow clients stall answers after seconds.
GENEROUS_BOUND = 1.0
MAX_BODY = 2 * 1024 * 1024


@pytest.fixture(scope="module")
def patient_server() -> Iterator[Server]:
    """Deadlines longer than the trickle: the slow clients stay connected all along."""
    with running_server("--allow-insecure-password", env={"TEMIX_HEADER_TIMEOUT": "30", "TEMIX_BODY_TIMEOUT": "30"}) as running:
        yield running


@pytest.fixture(scope="module")
def strict_server() -> Iterator[Server]:
    with running_server("--allow-insecure-password", env={"TEMIX_HEADER_TIMEOUT": "2", "TEMIX_BODY_TIMEOUT": "2"}) as running:
        yield running


def address(server: Server) -> tuple[str, int]:
    host, port = server.base_url.removeprefix("http://").split(":")
    return host, int(port)


def request_tender_envelope(party: str) -> bytes:
    return msg.envelope(msg.request_tender(f"q-{uuid.uuid4().hex}", party), msg.username_token(party, party))


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response with a Content-Length, read from ``sock``."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before a response head: {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed inside a response body")
        body += chunk
    return int(lines[0].split()[1]), headers, body[:length]


def closed_by_server(sock: socket.socket, within: float) -> bool:
    """True if the server closes ``sock`` (after any response) within ``within`` seconds."""
    sock.settimeout(within)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        pass
    return True


class SlowClient:
    """Sends its request a few bytes at a time: its head (``part="head"``) or its body."""

    def __init__(self, server: Server, part: str, party: str):
        body = request_tender_envelope(party)
        host, port = address(server)
        head = (
            f"POST /EiTender HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: text/xml; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        if part == "head":
            self.sent, self.pending = b"", head + body
            self.trickled = len(head)  # the body goes at once, after the head
        else:
            self.sent, self.pending = head, body
            self.trickled = len(body)
        self.sock = socket.create_connection((host, port), timeout=30)
        self.sock.sendall(self.sent)

    def send_share(self, steps: int) -> None:
        size = max(1, self.trickled // steps)
        piece, self.pending = self.pending[:size], self.pending[size:]
        self.sock.sendall(piece)

    def finish(self) -> Reply:
        self.sock.sendall(self.pending)
        status, _, body = read_response(self.sock)
        self.sock.close()
        return check_reply(Reply(status, body))


def timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def test_fifty_slow_clients_do_not_delay_an_ordinary_request(patient_server):
    party = f"slow-{uuid.uuid4().hex[:6]}"
    patient_server.add_party(party, party)
    ordinary = http.client.HTTPConnection(*address(patient_server), timeout=30)

    def ordinary_soap_request() -> None:
        ordinary.request("POST", "/EiTender", request_tender_envelope(party), {"Content-Type": "text/xml"})
        reply = ordinary.getresponse()
        assert check_reply(Reply(reply.status, reply.read())).code == "200"

    # A worker's first request of a party verifies its password (scrypt): not what is measured.
    ordinary_soap_request()
    clients = [SlowClient(patient_server, "head" if i % 2 else "body", party) for i in range(SLOW_CLIENTS)]
    steps = int(TRICKLE_SECONDS / 0.5)

    def health() -> None:
        with socket.create_connection(address(patient_server), timeout=30) as fresh:
            fresh.sendall(b"GET /health HTTP/1.1\r\nHost: temix\r\n\r\n")
            assert read_response(fresh)[0] == 200

    waits = []
    for _ in range(steps):
        for client in clients:
            client.send_share(steps)
        waits.append(timed(ordinary_soap_request))
        waits.append(timed(health))
        time.sleep(0.5)
    ordinary.close()

    # every slow client was still connected and is answered once it has sent everything
    assert [client.finish().code for client in clients] == ["200"] * SLOW_CLIENTS
    assert max(waits) < GENEROUS_BOUND, sorted(waits)[-5:]


def test_a_client_that_stalls_in_its_head_is_dropped_after_the_deadline(strict_server):
    with socket.create_connection(address(strict_server), timeout=30) as sock:
        sock.sendall(b"POST /EiTender HTTP/1.1\r\nHost: temix\r\nContent-Type: text/xml\r\n")
        assert closed_by_server(sock, within=15)  # TEMIX_HEADER_TIMEOUT=2


def test_a_client_that_stalls_in_its_body_gets_408_and_is_dropped(strict_server):
    with socket.create_connection(address(strict_server), timeout=30) as sock:
        sock.sendall(b"POST /EiTender HTTP/1.1\r\nHost: temix\r\nContent-Length: 1000\r\n\r\n<soap:Envelope")
        sock.settimeout(15)  # TEMIX_BODY_TIMEOUT=2
        status, headers, _ = read_response(sock)
        assert status == 408 and headers.get("connection") == "close"
        assert closed_by_server(sock, within=15)
    health = http.client.HTTPConnection(*address(strict_server), timeout=30)
    health.request("GET", "/health")
    assert health.getresponse().status == 200  # the server serves on
    health.close()


def test_an_idle_kept_alive_connection_is_closed_after_the_head_deadline(strict_server):
    with socket.create_connection(address(strict_server), timeout=30) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: temix\r\n\r\n")
        assert read_response(sock)[0] == 200
        assert closed_by_server(sock, within=15)


def test_several_requests_share_one_kept_alive_connection(patient_server):
    party = f"keep-{uuid.uuid4().hex[:6]}"
    patient_server.add_party(party, party)
    connection = http.client.HTTPConnection(*address(patient_server), timeout=30)
    connection.connect()
    first_socket = connection.sock
    statuses = []
    for method, path, body in [
        ("GET", "/health", None),
        ("POST", "/EiTender", request_tender_envelope(party)),
        ("GET", "/EiTender?wsdl", None),
        ("HEAD", "/health", None),
        ("POST", "/EiTender", request_tender_envelope(party)),
    ]:
        connection.request(method, path, body, {"Content-Type": "text/xml"} if body else {})
        reply = connection.getresponse()
        content = reply.read()
        if method == "POST":
            assert check_reply(Reply(reply.status, content)).code == "200"
        assert reply.getheader("Connection", "").lower() != "close"
        statuses.append(reply.status)
    assert connection.sock is first_socket  # http.client reconnects silently otherwise
    connection.close()
    assert statuses == [200] * 5


def test_a_content_length_over_the_limit_gets_413_without_the_body_being_read(patient_server):
    with socket.create_connection(address(patient_server), timeout=30) as sock:
        sock.sendall(
            f"POST /EiTender HTTP/1.1\r\nHost: temix\r\nContent-Type: text/xml\r\n"
            f"Content-Length: {MAX_BODY + 1}\r\n\r\n".encode()
        )
        status, _, body = read_response(sock)  # answered before any byte of the body
    assert status == 413
    assert check_reply(Reply(status, body)).faultcode.endswith("Client.RequestTooLarge")


def test_a_huge_chunked_body_gets_413_after_the_limit_and_is_not_read_to_its_end(patient_server):
    """64 MiB sent chunked: the front stops reading a little past 2 MiB, answers 413 and closes,
    so the client cannot even send the rest (nothing buffers the whole body)."""
    total, chunk = 64 * 1024 * 1024, b"<x>" + b"a" * 65530 + b"</x>"
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    sock = socket.create_connection(address(patient_server), timeout=30)
    sock.sendall(b"POST /EiTender HTTP/1.1\r\nHost: temix\r\nContent-Type: text/xml\r\nTransfer-Encoding: chunked\r\n\r\n")
    sent = {"bytes": 0, "stopped": None}

    def send_all() -> None:
        try:
            while sent["bytes"] < total:
                sock.sendall(framed)
                sent["bytes"] += len(chunk)
            sock.sendall(b"0\r\n\r\n")
        except OSError as error:
            sent["stopped"] = error

    sender = threading.Thread(target=send_all)
    sender.start()
    try:
        status, _, body = read_response(sock)
    finally:
        sender.join(timeout=60)
        sock.close()
    assert status == 413
    assert check_reply(Reply(status, body)).faultcode.endswith("Client.RequestTooLarge")
    assert sent["stopped"] is not None and sent["bytes"] < total, sent
