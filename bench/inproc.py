"""In-process cost per request, with an optional cProfile: where a worker's time goes.

Starts its own embedded PostgreSQL in a temporary folder, migrates it, registers two bench
parties, then calls the real WSGI app (``service.app.create_app``) in this process, one
request at a time: the baseline app (bench/baseline) on the EiCreateTender envelopes, then
EiCreateTender, then EiCreateTransaction on the tenders just made, then EiRequestTransaction
(``--list-items`` of them per reply, fewer requests: ``--list-requests``). No HTTP, no gunicorn, no
concurrency: it isolates each app's own CPU and round trips (what gunicorn and HTTP add is the
same for both: compare with the CPU table of a bench run).

    python bench/inproc.py [--requests 2000] [--profile baseline|create_tender|create_transaction|request_transaction]
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH.parent), str(BENCH)]

from common import (
    CTX,
    fill,
    password_of,
    run_start,
    tpl_create_tender,
    tpl_create_transaction,
    tpl_request_transaction,
)


def wsgi_post(app, path: str, body: bytes) -> bytes:
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": path, "CONTENT_LENGTH": str(len(body)),
               "CONTENT_TYPE": "text/xml; charset=utf-8", "wsgi.input": io.BytesIO(body),
               "SERVER_NAME": "bench", "SERVER_PORT": "1", "wsgi.url_scheme": "http", "QUERY_STRING": ""}
    reply = b"".join(app(environ, lambda status, headers: None))
    if b"responseCode>200<" not in reply:
        raise RuntimeError(reply[:800])
    return reply


def postgres_cpu(data_dir: Path) -> float:
    """CPU seconds used so far by the PostgreSQL server of ``data_dir`` (all its processes)."""
    import psutil

    from service.store.embedded import pgdata_path

    postmaster = psutil.Process(int((pgdata_path(data_dir) / "postmaster.pid").read_text().split()[0]))
    total = 0.0
    for process in [postmaster, *postmaster.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = process.cpu_times()
            total += times.user + times.system
    return total


def prepare_service(data_dir: Path):
    """An embedded PostgreSQL in data_dir, migrated, with CTX and the two bench parties: the
    settings and an engine on it."""
    from service.auth.passwords import hash_password, load_or_create_key, seal_secret
    from service.config import Settings
    from service.domain.markets import MarketContext
    from service.store.db import make_engine
    from service.store.embedded import start_embedded
    from service.store.markets import add_market_context
    from service.store.migrate import upgrade
    from service.store.parties import add_party

    url = start_embedded(data_dir)
    upgrade(url)
    settings = Settings.from_env(environ={}, data_dir=data_dir, database_url=url, allow_insecure_password=True)
    engine = make_engine(url)
    key = load_or_create_key(settings.secret_key_file)
    with engine.begin() as conn:
        add_market_context(conn, MarketContext(CTX))
        for party in ("bench-0", "bench-1"):
            add_party(conn, party, hash_password(password_of(party)), seal_secret(key, password_of(party)),
                      market_contexts=[CTX])
    return settings, engine


def prepare(data_dir: Path):
    from baseline.app import TABLE_DDL
    from baseline.app import create_app as baseline_app
    from sqlalchemy import text

    from service.app import create_app

    settings, engine = prepare_service(data_dir)
    with engine.begin() as conn:
        conn.execute(text(TABLE_DDL))
    engine.dispose()
    return baseline_app(settings), create_app(settings)  # their own connections, as workers make them


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--profile", choices=("baseline", "create_tender", "create_transaction", "request_transaction"))
    parser.add_argument("--list-requests", type=int, default=200)
    parser.add_argument("--top", type=int, default=35)
    args = parser.parse_args(argv)
    from service.store.embedded import stop_embedded

    data_dir = Path(tempfile.mkdtemp(prefix="temix-inproc-"))
    try:
        baseline, app = prepare(data_dir)
        create = tpl_create_tender("bench-0", "bench-1", "N0")
        accept = tpl_create_transaction("bench-1", "bench-0", "N0")
        request = tpl_request_transaction("bench-1")
        n = args.requests
        phases = {
            "baseline": lambda k: wsgi_post(baseline, "/EiTender", fill(
                create, rid=f"b{k}", tid=f"b{k}", start=run_start(k))),
            "create_tender": lambda k: wsgi_post(app, "/EiTender", fill(
                create, rid=f"c{k}", tid=f"t{k}", start=run_start(k))),
            "create_transaction": lambda k: wsgi_post(app, "/EiTransaction", fill(
                accept, rid=f"a{k}", xid=f"x{k}", tid=f"t{k}", qty="4", start=run_start(k))),
            # every transaction of bench-1 (at most the service's 1,000 items per reply)
            "request_transaction": lambda k: wsgi_post(app, "/EiTransaction", fill(request, rid=f"r{k}")),
        }
        for name, call in phases.items():
            if name == "request_transaction":
                n = args.list_requests
            for k in range(20):  # warm-up: caches, compiled statements, verified passwords
                call(n + k)
            profiler = cProfile.Profile() if args.profile == name else None
            postgres = postgres_cpu(data_dir)
            started, cpu = time.perf_counter(), time.process_time()
            if profiler:
                profiler.enable()
            for k in range(n):
                call(k)
            if profiler:
                profiler.disable()
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
            postgres = postgres_cpu(data_dir) - postgres
            print(f"{name}: {elapsed / n * 1e6:.0f} us per request, CPU {cpu / n * 1e6:.0f} us here + "
                  f"{postgres / n * 1e6:.0f} us PostgreSQL ({n} requests{', profiled' if profiler else ''})")
            if profiler:
                stats = pstats.Stats(profiler, stream=sys.stdout)
                stats.sort_stats("tottime").print_stats(args.top)
                stats.sort_stats("cumulative").print_stats(args.top)
    finally:
        stop_embedded(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
