"""A serving worker SIGKILLed under load: every answered request is in the database, every
retried one applied once, positions consistent."""

from __future__ import annotations

import os
import signal
import time

from tests.support.faults import Trading, check_applied_once, open_market, wait_for_workers, worker_pids
from tests.support.server import running_server

WORKERS = 2
KILLS = 4


def test_workers_killed_under_load_lose_no_commit_and_apply_no_retry_twice():
    with running_server("--workers", str(WORKERS), "--allow-insecure-password", prefix="temix-faults-") as server:
        seller, buyer, shared = open_market(server, "kill")
        trading = Trading(server, seller, buyer, shared, threads=4, rounds=30)
        killed: list[int] = []

        def kill_workers() -> None:
            workers = wait_for_workers(server.pid, WORKERS)
            for _ in range(KILLS):
                start = trading.done_requests
                while trading.done_requests < start + 15:  # in the middle of the load
                    time.sleep(0.01)
                victim = min(workers)
                os.kill(victim, signal.SIGKILL)
                killed.append(victim)
                workers = wait_for_workers(server.pid, WORKERS, other_than=set(killed))

        trading.run(meanwhile=kill_workers)

        assert len(killed) == KILLS and not worker_pids(server.pid) & set(killed)
        check_applied_once(trading)
        assert "Traceback" not in server.log_path.read_text(errors="replace")
    print(f"{KILLS} workers killed; {len(trading.failures)} failed attempts retried: {sorted(set(trading.failures))}")
