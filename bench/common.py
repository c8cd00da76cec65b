"""What the load generator, the preloader and the orchestrator share.

Envelopes are built once per (operation, party) with the test builders
(``tests.support.messages``, lxml, WS-Security UsernameToken with PasswordText) around marker
values such as ``@RID@``; a request is then the template with its markers replaced by plain
ASCII identifiers and timestamps, so a client spends microseconds per request, not the
~100 us lxml would take to build and serialise a fresh envelope.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from lxml import etree

from service.soap.stored import stored_form
from service.soap.ns import EMIX, q
from tests.support import messages as M
from tests.support import quote_messages as QM

CTX = M.CTX
PRICE = "0.08"

# Bench parties that log in (PasswordText; the service caches a verified password per worker).
def bench_party(i: int) -> str:
    return f"bench-{i}"


ACCEPTOR = "bench-acc"  # the one counterparty of the contended tenders
MAKER = "bench-mk"  # their maker (never logs in)
POSITION_PARTY = "pos-0"  # 10^5 transactions on one day


def password_of(party: str) -> str:
    return f"pw-{party}"


# The fixed "reader" sets, the same at every scale: per bench party, in WINDOW, 100 standing
# tenders it may see and 100 transactions it is a side of (see preload.py).
WINDOW_START = datetime(2031, 6, 1, tzinfo=UTC)
WINDOW_END = datetime(2031, 6, 8, tzinfo=UTC)
POSITION_DAY = datetime(2031, 6, 3, tzinfo=UTC)  # a bench party's profile: 288 steps of PT5M
POSITION_PARTY_DAY = datetime(2031, 7, 1, tzinfo=UTC)  # pos-0's day of 10^5 transactions
READER_NODE = "NB"
# Tenders made during a run (EiCreateTender phase), later accepted and cancelled.
RUN_EPOCH = datetime(2036, 1, 1, tzinfo=UTC)


def iso(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ")


def interval_text(start: datetime, end: datetime) -> str:
    return f"{iso(start)}/{iso(end)}"


def run_start(k: int) -> str:
    """Start of the k-th tender a client makes during a run: one hour apart."""
    return iso(RUN_EPOCH + timedelta(hours=k))


# ----------------------------------------------------------------------- envelope templates


def _token(party: str):
    return M.username_token(party, password_of(party))


def tpl_create_tender(party: str, counterparty: str, node: str) -> bytes:
    product = M.product(side="sell", quantity="10", price=PRICE, start="@START@", node=node)
    return M.envelope(M.create_tender("@RID@", party, counterparty, ("@TID@", product)), _token(party))


def tpl_create_transaction(party: str, maker: str, node: str, side: str = "buy") -> bytes:
    product = M.product(side=side, quantity="@QTY@", price=PRICE, start="@START@", node=node, state="transaction")
    return M.envelope(
        M.create_transaction("@RID@", party, maker, ("@XID@", "@TID@", product)), _token(party)
    )


def tpl_cancel_tender(party: str) -> bytes:
    return M.envelope(M.cancel_tender("@RID@", party, "@TID@"), _token(party))


def tpl_request_tender(party: str, intervals=()) -> bytes:
    return M.envelope(M.request_tender("@RID@", party, intervals=intervals), _token(party))


def tpl_request_transaction(party: str, intervals=()) -> bytes:
    return M.envelope(M.request_transaction("@RID@", party, intervals=intervals), _token(party))


def tpl_request_position(party: str, day: datetime, resolution: str = "PT5M") -> bytes:
    return M.envelope(
        M.request_position("@RID@", party, iso(day), "P1D", resolution=resolution), _token(party)
    )


def tpl_create_quote(party: str, subscriber: str, node: str) -> bytes:
    product = M.product(side="sell", quantity="10", price=PRICE, start="@START@", node=node, state="indicationOfInterest")
    return M.envelope(QM.create_quote("@RID@", party, subscriber, ("@QID@", product)), _token(party))


def tpl_request_quote(party: str, publisher: str, intervals=()) -> bytes:
    return M.envelope(QM.request_quote("@RID@", party, publisher, intervals=intervals), _token(party))


def fill(template: bytes, **values: str) -> bytes:
    for name, value in values.items():
        template = template.replace(f"@{name.upper()}@".encode(), value.encode())
    return template


def stored_product_template() -> bytes:
    """The bytes the service stores for a product (C14N of the emix:product element of a
    request envelope, as ``handlers._tender_row`` / ``_transaction_row`` keep it), with the
    markers @SIDE@ @QTY@ @PRICE@ @START@ @DUR@ @NODE@ @STATE@ to fill per row."""
    product = M.product(side="@SIDE@", quantity="@QTY@", price="@PRICE@", start="@START@",
                        duration="@DUR@", node="@NODE@", state="@STATE@")
    envelope = etree.fromstring(M.envelope(M.create_tender("r", "a", "b", ("t", product)), _token("a")))
    return stored_form(envelope.find(f".//{q(EMIX, 'product')}"))


# ----------------------------------------------------------------------- HTTP client

_CODE = re.compile(rb"responseCode>(\d+)</")
_FAULT = re.compile(rb"<faultstring>([^<]*)</faultstring>")


class HttpError(Exception):
    pass


class Connection:
    """A minimal HTTP/1.1 client: keep-alive when the server allows it, reconnect when it
    answers ``Connection: close`` (gunicorn sync workers always do)."""

    def __init__(self, host: str, port: int):
        self.address = (host, port)
        self.sock: socket.socket | None = None
        self.buffer = b""
        self.reused = False
        self.connects = 0

    def _connect(self) -> None:
        sock = socket.create_connection(self.address, timeout=30)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock, self.buffer, self.reused = sock, b"", False
        self.connects += 1

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock = None

    def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.address[0]}:{self.address[1]}\r\n"
            f"Content-Type: text/xml; charset=utf-8\r\nContent-Length: {len(body)}\r\n"
            "Connection: keep-alive\r\n\r\n"
        ).encode()
        for attempt in (0, 1):
            if self.sock is None:
                self._connect()
            try:
                self.sock.sendall(head + body)
                return self._read()
            except (ConnectionError, HttpError):
                reused = self.reused
                self.close()
                if attempt or not reused:  # only a stale kept-alive connection is retried
                    raise
        raise AssertionError("unreachable")

    def _recv(self) -> None:
        chunk = self.sock.recv(262144)
        if not chunk:
            raise HttpError("connection closed before a full response")
        self.buffer += chunk

    def _read(self) -> tuple[int, bytes]:
        while b"\r\n\r\n" not in self.buffer:
            self._recv()
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length, close = None, False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        if length is None:
            raise HttpError("response without Content-Length")
        self.buffer = rest
        while len(self.buffer) < length:
            self._recv()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        if close:
            self.close()
        else:
            self.reused = True
        return status, body


def response_code(status: int, body: bytes) -> str:
    """The EI responseCode, or 'HTTP <status>' / 'fault: <faultstring>' when there is none."""
    found = _CODE.search(body)
    if status == 200 and found:
        return found.group(1).decode()
    fault = _FAULT.search(body)
    if fault:
        return f"fault: {fault.group(1).decode()[:200]}"
    return f"HTTP {status}"


# ----------------------------------------------------------------------- statistics


@dataclass
class Figures:
    name: str
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    codes: dict
    target_rate: float | None = None
    items: float | None = None  # mean items per reply, where counted
    client_cpu_s: float = 0.0
    note: str = ""

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, int(round(fraction * len(sorted_values) + 0.5)) - 1))
    return sorted_values[index]
