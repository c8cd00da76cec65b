"""PostgreSQL stopped and started under load: while it is down requests get a quick Server
fault; once it is back every worker serves at once, with no restart of the service; nothing
answered is lost and nothing retried is applied twice."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.support import messages as msg
from tests.support.faults import Trading, check_applied_once, open_market, post, start_database, stop_database
from tests.support.server import running_server

WORKERS = 2
QUICK = 5  # seconds: a generous bound on "a quick fault" (it takes milliseconds here)
UNAVAILABLE = "The database is unavailable: the request was not applied; try again later"


def test_the_service_recovers_from_a_database_restart_under_load_by_itself():
    with running_server("--workers", str(WORKERS), "--allow-insecure-password", prefix="temix-faults-") as server:
        seller, buyer, shared = open_market(server, "restart")
        trading = Trading(server, seller, buyer, shared, threads=4, rounds=30)
        outage: list[tuple[float, object]] = []

        def restart_database() -> None:
            while trading.done_requests < 40:  # in the middle of the load
                time.sleep(0.01)
            socket_dir = stop_database(server)
            for n in range(6):  # what a client gets meanwhile
                started = time.monotonic()
                tender = f"down-{n}"
                reply = post(server, "/EiTender", msg.create_tender(f"r-{tender}", seller, buyer, (tender, msg.product())))
                outage.append((time.monotonic() - started, reply))
            assert requests.get(f"{server.base_url}/ready", timeout=QUICK).status_code == 503
            assert requests.get(f"{server.base_url}/health", timeout=QUICK).status_code == 200
            start_database(server, socket_dir)

        trading.run(meanwhile=restart_database)

        for took, reply in outage:
            assert reply.is_fault and reply.faultcode.endswith(":Server")
            assert reply.faultstring == UNAVAILABLE
            assert took < QUICK
        check_applied_once(trading)

        # Back: with the workers all busy, every request is served at its first attempt.
        def first_attempt(n: int) -> str:
            tender = f"up-{n}"
            return post(server, "/EiTender", msg.create_tender(f"r-{tender}", seller, buyer, (tender, msg.product()))).code

        with ThreadPoolExecutor(max_workers=2 * WORKERS) as pool:
            assert list(pool.map(first_attempt, range(40))) == ["200"] * 40
        assert requests.get(f"{server.base_url}/ready", timeout=QUICK).status_code == 200

        log = server.log_path.read_text(errors="replace")
        assert "Traceback" not in log
        assert "database unavailable, request not applied" in log
        # no request refused for good because of the outage: the probes' tenders were never written
        with_probes = post(server, "/EiTender", msg.request_tender("q-down", seller, tender_ids=[f"down-{n}" for n in range(6)]))
        assert with_probes.code == "200" and with_probes.payload.find(f".//{{*}}eiTender") is None
    print(f"outage faults in {max(t for t, _ in outage) * 1000:.1f} ms at most; "
          f"{len(trading.failures)} failed attempts retried: {sorted(set(trading.failures))}")
