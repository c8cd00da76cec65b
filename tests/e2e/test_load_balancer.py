"""Past one machine: two `temix serve` processes on one PostgreSQL behind haproxy.

haproxy runs ``deploy/haproxy.cfg`` as shipped, but for the lines that name this host's
addresses (bind, server, stats socket) and the system user it would switch to, on loopback.
Both services use the run's PostgreSQL (one database, migrated once) and one server key file,
as several hosts of one market would. Every request goes through the balancer:

- the acceptance race stays exact when the racing requests land on both processes;
- a client's keep-alive connection to the balancer survives one process stopping: each of its
  requests is answered, none is applied twice, and it stays one connection.

haproxy comes from Debian's package, which ``scripts/test.sh`` installs when it is missing and
apt-get can (as root); elsewhere these tests are skipped, saying so.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from service.config import REPO_ROOT
from service.soap.ns import EI, EMIX, q
from service.store.migrate import upgrade
from tests.support import messages as msg
from tests.support.server import Server, free_port, running_server
from tests.support.soap import Reply, check_reply

SHIPPED_CONFIG = REPO_ROOT / "deploy" / "haproxy.cfg"
START_TIMEOUT = 60  # seconds for haproxy to see both services ready
HOSTS = ("temix1", "temix2")


def haproxy_config(shipped: str, bind_port: int, servers: dict[str, str], stats_socket: Path) -> str:
    """The shipped configuration on loopback: its own bind, server and stats socket lines
    replaced, and no chroot or user switch (the test may not run as root)."""
    lines = []
    for line in shipped.splitlines():
        word = line.split()[0] if line.strip() and not line.lstrip().startswith("#") else ""
        if word in ("chroot", "user", "group"):
            continue
        if word == "bind":
            line = f"    bind 127.0.0.1:{bind_port}"
        elif word == "stats" and line.split()[1] == "socket":
            line = f"    stats socket {stats_socket} mode 600 level admin"
        elif word == "server":
            name = line.split()[1]
            if name not in servers:
                continue
            line = f"    server {name} {servers[name]}"
        lines.append(line)
    return "\n".join(lines) + "\n"


class Balancer:
    """A running haproxy: its address and its statistics (requests per host, connections)."""

    def __init__(self, base_url: str, stats_socket: Path, process: subprocess.Popen, log_path: Path):
        self.base_url, self.stats_socket, self.process, self.log_path = base_url, stats_socket, process, log_path

    def stats(self) -> dict[str, dict[str, str]]:
        """``show stat`` of the admin socket, by server name (FRONTEND for the frontend)."""
        with socket.socket(socket.AF_UNIX) as admin:
            admin.settimeout(5)
            admin.connect(str(self.stats_socket))
            admin.sendall(b"show stat\n")
            text = b"".join(iter(lambda: admin.recv(65536), b"")).decode()
        rows = csv.DictReader(io.StringIO(text.lstrip("# ")))
        return {row["svname"]: row for row in rows if row["pxname"] in ("temix", "temix_hosts")}

    def served(self) -> dict[str, int]:
        """Requests each host has been sent so far (haproxy's total sessions per server), and
        the connections clients have opened to the balancer (FRONTEND)."""
        stats = self.stats()
        return {name: int(stats[name]["stot"]) for name in (*HOSTS, "FRONTEND")}

    def log_tail(self) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-30:])


@pytest.fixture(scope="module")
def haproxy() -> str:
    found = shutil.which("haproxy") or next(
        (path for path in ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy") if os.access(path, os.X_OK)), None
    )
    if found is None:
        pytest.skip("haproxy is not installed: scripts/test.sh installs Debian's haproxy package where"
                    " apt-get can (as root); elsewhere `apt-get install haproxy`")
    return found


@pytest.fixture(scope="module")
def cluster(haproxy, postgres_server) -> Iterator[tuple[Balancer, dict[str, Server], ExitStack]]:
    """Two services on one fresh database behind haproxy: (balancer, services by host name,
    the stack whose ``hosts[name]`` context can be closed early to stop that service)."""
    name = f"temix_lb_{os.getpid()}"
    url = postgres_server.create_database(name)
    upgrade(url)  # once, before either host starts (each would also migrate at start)
    shared = Path(tempfile.mkdtemp(prefix="temix-lb-"))
    env = {"DATABASE_URL": url, "TEMIX_SECRET_KEY_FILE": str(shared / "secret.key")}
    try:
        with ExitStack() as outer:
            services, stacks = {}, {}
            for host in HOSTS:
                stacks[host] = outer.enter_context(ExitStack())
                services[host] = stacks[host].enter_context(
                    running_server(prefix=f"temix-lb-{host}-", env=env, register_ctx=host == HOSTS[0])
                )
            balancer = outer.enter_context(_running_haproxy(haproxy, shared, services))
            yield balancer, services, stacks
    finally:
        shutil.rmtree(shared, ignore_errors=True)
        postgres_server.drop_database(name)


def _running_haproxy(binary: str, folder: Path, services: dict[str, Server]):
    from contextlib import contextmanager

    @contextmanager
    def run() -> Iterator[Balancer]:
        port = free_port()
        stats_socket = folder / "haproxy.sock"
        servers = {host: service.base_url.removeprefix("http://") for host, service in services.items()}
        config = folder / "haproxy.cfg"
        config.write_text(haproxy_config(SHIPPED_CONFIG.read_text(), port, servers, stats_socket))
        checked = subprocess.run([binary, "-c", "-f", str(config)], capture_output=True, text=True)
        assert checked.returncode == 0, f"haproxy refuses deploy/haproxy.cfg:\n{checked.stdout}{checked.stderr}"
        log_path = folder / "haproxy.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen([binary, "-db", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT)
        balancer = Balancer(f"http://127.0.0.1:{port}", stats_socket, process, log_path)
        try:
            _wait_until_both_up(balancer)
            yield balancer
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    return run()


def _wait_until_both_up(balancer: Balancer) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    status: dict[str, str] = {}
    while time.monotonic() < deadline:
        if balancer.process.poll() is not None:
            pytest.fail(f"haproxy exited with {balancer.process.returncode}:\n{balancer.log_tail()}")
        try:
            status = {host: row["status"] for host, row in balancer.stats().items() if host in HOSTS}
        except OSError:  # its admin socket is not there yet
            pass
        if status and all(state == "UP" for state in status.values()):
            return
        time.sleep(0.2)
    pytest.fail(f"haproxy does not see both services ready on GET /ready: {status}\n{balancer.log_tail()}")


def post(base_url: str, path: str, payload, session=None) -> Reply:
    party = payload.findtext(q(EI, "partyID"))
    data = msg.envelope(payload, msg.username_token(party, party, digest=True))
    answer = (session or requests).post(
        f"{base_url}{path}", data=data, headers={"Content-Type": "text/xml; charset=utf-8"}, timeout=30
    )
    return check_reply(Reply(answer.status_code, answer.content))


@pytest.fixture(scope="module")
def pair(cluster) -> tuple[str, str]:
    """(seller, buyer), registered once: both hosts read the same party table and key; the
    password is the party's id, sent as PasswordDigest (so both hosts unseal it with the key)."""
    _, services, _ = cluster
    seller, buyer = f"lb-seller-{uuid.uuid4().hex[:6]}", f"lb-buyer-{uuid.uuid4().hex[:6]}"
    for party in (seller, buyer):
        services[HOSTS[0]].add_party(party, party)
    return seller, buyer


def test_the_shipped_config_sends_wsdl_readers_to_the_balancers_address(cluster):
    balancer, _, _ = cluster
    wsdl = requests.get(f"{balancer.base_url}/EiTender?wsdl", timeout=30)
    assert wsdl.status_code == 200
    assert re.search(rb'location="' + re.escape(balancer.base_url.encode()) + rb'/EiTender"', wsdl.content)
    assert requests.get(f"{balancer.base_url}/ready", timeout=30).text == "ready\n"


def test_the_acceptance_race_stays_exact_across_two_hosts_on_one_database(cluster, pair):
    balancer, services, _ = cluster
    seller, buyer = pair
    tenders = {f"lb-race-{uuid.uuid4().hex[:6]}-{i}": Decimal(n) for i, n in enumerate(("10", "7.5", "3"))}
    offers = [(t, msg.product(quantity=str(n))) for t, n in tenders.items()]
    assert post(balancer.base_url, "/EiTender", msg.create_tender(f"lb-r-{uuid.uuid4().hex}", seller, buyer, *offers)).code == "200"
    names = list(tenders)
    before = balancer.served()

    def attempt(i: int) -> tuple[str, Decimal, str]:
        tender_id = names[i % len(names)]
        take = Decimal("1.25") if i % 3 else Decimal("2")
        accept = (f"lb-x-{tender_id}-{i}", tender_id, msg.product(side="buy", quantity=str(take), state="transaction"))
        with requests.Session() as session:  # a connection of its own: the balancer spreads them
            reply = post(balancer.base_url, "/EiTransaction",
                         msg.create_transaction(f"lb-a-{tender_id}-{i}", buyer, seller, accept), session=session)
        return tender_id, take, reply.code

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(attempt, range(120)))

    after = balancer.served()
    assert all(after[host] > before[host] for host in HOSTS), f"not both hosts took part: {before} -> {after}"
    assert {code for _, _, code in results} <= {"200", "460", "410"}
    for tender_id, offered in tenders.items():
        accepted = sum(take for t, take, code in results if t == tender_id and code == "200")
        assert offered - Decimal("2") < accepted <= offered  # filled as far as the takes fit, never past it
        left = post(balancer.base_url, "/EiTender", msg.request_tender(f"lb-q-{uuid.uuid4().hex}", buyer, tender_ids=[tender_id]))
        assert Decimal(left.payload.findtext(f".//{q(EMIX, 'quantity')}") or "0") == offered - accepted
    services[HOSTS[0]].temix("db", "check-positions")


def test_a_keepalive_client_keeps_being_served_when_one_host_stops(cluster, pair):
    """Runs last: it stops the second host."""
    balancer, services, stacks = cluster
    seller, buyer = pair
    run = uuid.uuid4().hex[:6]
    created: list[str] = []

    def tender_once(session: requests.Session, i: int) -> None:
        tender_id = f"lb-ka-{run}-{i}"
        reply = post(balancer.base_url, "/EiTender",
                     msg.create_tender(f"lb-ka-r-{run}-{i}", seller, buyer, (tender_id, msg.product(quantity="1"))),
                     session=session)
        assert reply.code == "200", reply.description
        created.append(tender_id)

    before = balancer.served()
    with requests.Session() as session:
        for i in range(20):
            tender_once(session, i)
        both_up = balancer.served()
        assert all(both_up[host] > before[host] for host in HOSTS), f"one host took every request: {before} -> {both_up}"

        stacks[HOSTS[1]].close()  # SIGTERM to the second `temix serve`; returns once it has exited
        for i in range(20, 60):
            tender_once(session, i)
        after = balancer.served()

    # One client connection from first to last, though the host it was sent to half the time is gone.
    assert after["FRONTEND"] - before["FRONTEND"] == 1
    assert after[HOSTS[0]] > both_up[HOSTS[0]]
    # Each tender was made once, whichever host answered, and a retried request was not applied twice.
    listed = post(services[HOSTS[0]].base_url, "/EiTender",
                  msg.request_tender(f"lb-ka-l-{run}", seller, tender_ids=created))
    found = [e.text for e in listed.payload.iter(q(EI, "tenderID"))]
    assert sorted(found) == sorted(created)
    assert len(created) == 60
