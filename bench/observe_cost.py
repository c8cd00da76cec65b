"""What metrics and the JSON request log cost a request: EiCreateTender in process, three variants
side by side in interleaved rounds (in turn first), this process's CPU per request (PostgreSQL's is the same
for all three and left out).

- ``off``: no request account handed on, no pool events (the pipeline still fills the throwaway
  account: a few context-variable reads);
- ``metrics``: as ``temix serve`` runs by default, prometheus_client in multi-process mode;
- ``metrics+json``: and the JSON request log line (written to /dev/null).

One app, switched from one variant to the next before each batch (two apps alike differed by
as much as these costs: their own engines, caches and memory).

The machine's speed moves between rounds by more than these costs, so the pieces the request
path gains are also timed alone, in a loop (``pieces``): what each request adds, exactly.

    python bench/observe_cost.py [--requests 500] [--rounds 6] [--pieces 100000] [--pieces-only]
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH.parent), str(BENCH)]

from service.observe.folder import parent_folder  # noqa: E402 - standard library only

# where temix serve puts its run's folder, named before prometheus_client is imported, as serve does
METRICS_DIR = tempfile.mkdtemp(prefix="temix-bench-metrics-", dir=parent_folder())
os.environ["PROMETHEUS_MULTIPROC_DIR"] = METRICS_DIR

from common import fill, run_start, tpl_create_tender  # noqa: E402
from inproc import prepare, wsgi_post  # noqa: E402


def variants(data_dir: Path) -> dict:
    """name -> a function that sets the one app up as that variant and returns it: one app,
    so the variants differ by what they switch alone."""
    from sqlalchemy import event

    from service.app import _each
    from service.observe.logs import RequestLog
    from service.pipeline import PAYLOADS

    _, app = prepare(data_dir)
    metrics = app.observe.__self__  # create_app's Metrics
    engine = metrics.database.engine
    with_json = partial(_each, [metrics.record, RequestLog(PAYLOADS, DEVNULL).record])

    def pool_events(on: bool) -> None:
        for name, listener in (("checkout", metrics.checkout), ("checkin", metrics.checkin)):
            if on and not event.contains(engine, name, listener):
                event.listen(engine, name, listener)
            elif not on and event.contains(engine, name, listener):
                event.remove(engine, name, listener)

    def setting(observe, pool: bool):
        def set_up():
            app.observe = observe
            pool_events(pool)
            return app

        return set_up

    return {
        "off": setting(None, False),
        "metrics": setting(metrics.record, True),
        "metrics+json": setting(with_json, True),
    }


DEVNULL = open(os.devnull, "w")  # noqa: SIM115 - for the whole run


def log_to_devnull() -> None:
    """The request lines on: as TEMIX_LOG_FORMAT=json at INFO, written to /dev/null."""
    logging.getLogger("temix.request").setLevel(logging.INFO)


def pieces(count: int) -> None:
    """Each piece a request gains, called ``count`` times in a loop: CPU us per call."""
    from service.observe import Exchange, closed, current, opened
    from service.observe.logs import RequestLog
    from service.observe.metrics import Metrics
    from service.pipeline import PAYLOADS, TABLE

    metrics, request_log = Metrics(PAYLOADS), RequestLog(PAYLOADS, DEVNULL)
    tag = TABLE[0].request
    record = type("Record", (), {"info": {}})()

    def account() -> None:  # the front opens it, the SOAP layer and the pipeline fill it in
        exchange = Exchange("EiTender")
        token = opened(exchange)
        current().payload_tag = tag
        current().request_id = "r"
        current().party = "p"
        current().code = "200"
        closed(token)

    def pool() -> None:  # one unit of work's checkout and checkin
        metrics.checkout(None, record, None)
        metrics.checkin(None, record)

    done = Exchange("EiTender", tag, "party-1", "request-1", code="200")
    measured = {
        "request account (open, fill, close)": account,
        "metrics: counter + histogram": lambda: metrics.record(done, 0.002),
        "metrics: pool gauge + transaction histogram": pool,
        "JSON request log line (to /dev/null)": lambda: request_log.record(done, 0.002),
    }
    print(f"\nEach piece alone, {count} calls, CPU per call")
    print("| piece | us |")
    print("|---|---|")
    for name, call in measured.items():
        started = time.process_time()
        for _ in range(count):
            call()
        print(f"| {name} | {(time.process_time() - started) / count * 1e6:.1f} |")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--pieces", type=int, default=100000)
    parser.add_argument("--pieces-only", action="store_true", help="only the pieces, no database")
    args = parser.parse_args(argv)
    log_to_devnull()
    if args.pieces_only:
        pieces(args.pieces)
        shutil.rmtree(METRICS_DIR, ignore_errors=True)
        return 0
    from service.store.embedded import stop_embedded

    data_dir = Path(tempfile.mkdtemp(prefix="temix-observe-cost-"))
    try:
        setups = variants(data_dir)
        create = tpl_create_tender("bench-0", "bench-1", "N0")
        made = iter(range(10**9))

        def call(app) -> None:
            k = next(made)
            wsgi_post(app, "/EiTender", fill(create, rid=f"c{k}", tid=f"t{k}", start=run_start(k % 50000)))

        for set_up in setups.values():
            app = set_up()
            for _ in range(30):  # warm-up: prepared statements, verified passwords
                call(app)
        cpu = {name: [] for name in setups}
        names = list(setups)
        for round_ in range(args.rounds):  # each round in another order: no variant always goes first
            for name in names[round_ % len(names):] + names[: round_ % len(names)]:
                app = setups[name]()
                started = time.process_time()
                for _ in range(args.requests):
                    call(app)
                cpu[name].append((time.process_time() - started) / args.requests * 1e6)
        off = statistics.median(cpu["off"])
        print(f"EiCreateTender in process, {args.rounds} rounds x {args.requests} requests, this process's CPU per request")
        print("| variant | median us | rounds (us) | over off: medians; median of the rounds' differences |")
        print("|---|---|---|---|")
        for name, rounds in cpu.items():
            median = statistics.median(rounds)
            paired = statistics.median(r - o for r, o in zip(rounds, cpu["off"]))  # same round, same machine
            print(
                f"| {name} | {median:.0f} | {' '.join(f'{r:.0f}' for r in rounds)} |"
                f" {median - off:+.0f} us ({(median / off - 1) * 100:+.1f} %); {paired:+.0f} us |"
            )
        pieces(args.pieces)
    finally:
        stop_embedded(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)
        shutil.rmtree(METRICS_DIR, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
