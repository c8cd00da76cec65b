"""Settlement of N party-intervals (issue 14): how long one `temix settle` run takes.

Settlement is an operator command, not a SOAP operation, so there is no server to load: the
bench times ``service.cli.settle.settle_once`` (what `temix settle` runs: one unit of work, one
COMMIT) on a fresh embedded PostgreSQL, migrated, preloaded with COPY (``bench/preload.py``'s
way: the rows the service itself would have written).

Data, for N party-intervals: a market context in Europe/Berlin with PT15M settlement intervals
and a balancing party; P = N / 96 parties at 10 nodes, each with a forward position of 24
hourly steps over one local day (2031-06-02, 96 quarter hours); each party's meter reading for
every quarter hour (withdrawal, a little off its position, so every party-interval is
imbalanced); the balancing party's one quote with a price per node and quarter hour.

Phases: the first run (books N imbalance transactions), the second (books nothing: idempotent),
then a correction of 1 % of the readings and the run that settles only those. Peak RSS is the
process's (``resource.getrusage``).

    .venv/bin/python bench/settle.py [--party-intervals 100000] [--out bench/results/DATE-settle.md]
"""

from __future__ import annotations

import argparse
import io
import os
import random
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text  # noqa: E402

from service.cli.common import engine_for  # noqa: E402
from service.cli.settle import settle_once  # noqa: E402
from service.domain.intervals import Interval  # noqa: E402
from service.domain.markets import MarketContext  # noqa: E402
from service.store.embedded import start_embedded, stop_embedded  # noqa: E402
from service.store.markets import add_market_context  # noqa: E402
from service.store.migrate import upgrade  # noqa: E402
from tests.support import messages as M  # noqa: E402

CTX = "urn:bench:settle"
REP = "bench-rep"
NODES = [f"S-{i}" for i in range(10)]
DAY = Interval(datetime(2031, 6, 1, 22, tzinfo=UTC), datetime(2031, 6, 2, 22, tzinfo=UTC))  # 2031-06-02, Berlin
QUARTER = timedelta(minutes=15)


def _copy(conn, table: str, columns: tuple[str, ...], rows) -> None:
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join(str(value) for value in row) + "\n")
    buffer.seek(0)
    raw = conn.connection.dbapi_connection
    with raw.cursor() as cursor:
        cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buffer)


def preload(engine, parties: int, rng: random.Random) -> None:
    names = [f"bench-p{i}" for i in range(parties)]
    quarters = [DAY.start + QUARTER * n for n in range(96)]
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO party (party_id, password_hash) VALUES (:p, 'x')"), [{"p": p} for p in [REP, *names]])
        add_market_context(conn, MarketContext(CTX, timezone="Europe/Berlin", currency="EUR", settlement_interval="PT15M",
                                               balancing_party_id=REP))
        positions, readings = [], []
        for i, party in enumerate(names):
            node = NODES[i % len(NODES)]
            rates = [Decimal(rng.randrange(4, 40)) / 4 for _ in range(24)]  # bought, kW per hour
            previous = Decimal(0)
            for h, rate in enumerate(rates + [Decimal(0)]):
                at = DAY.start + timedelta(hours=h)
                step = -rate - previous  # buys are negative
                previous = -rate
                positions.append((party, CTX, "energy", "", node, at.isoformat(), step, step * Decimal("0.1")))
            for n, start in enumerate(quarters):
                kwh = rates[n // 4] / 4 + Decimal(rng.randrange(-40, 41)) / 100 + Decimal("0.005")
                readings.append((party, CTX, node, start.isoformat(), (start + QUARTER).isoformat(), "false", abs(kwh),
                                 "operator", DAY.end.isoformat(), "bench"))
        _copy(conn, "position_change", ("party_id", "market_context", "product_kind", "receipt_node", "delivery_node",
                                        "at", "rate_kw", "value_rate"), positions)
        _copy(conn, "meter_reading", ("party_id", "market_context", "interface", "interval_start", "interval_end",
                                      "injection", "energy_kwh", "reported_by", "reported_at", "source"), readings)
        products = b"".join(
            _stored(M.product(side="sell", quantity="1", price=str(Decimal(rng.randrange(5, 40)) / 100), node=node,
                              start=start.strftime("%Y-%m-%dT%H:%M:%SZ"), duration="PT15M", market_context=CTX,
                              currency="EUR", state="publication"))
            for node in NODES for start in quarters
        )
        conn.execute(text(
            "INSERT INTO quote (party_id, quote_id, subscriber_id, request_id, market_context, start_at, end_at,"
            " product_xml, created_at) VALUES (:rep, 'rt', :rep, 'rt', :ctx, :start, :end, :xml, :start)"
        ), {"rep": REP, "ctx": CTX, "start": DAY.start, "end": DAY.end, "xml": products})
        conn.execute(text("ANALYZE"))


def _stored(product) -> bytes:
    from lxml import etree

    return etree.tostring(product, method="c14n")


def timed(engine, market, now):
    started = time.perf_counter()
    settled = settle_once(engine, market, DAY, now, "operator:bench")
    return time.perf_counter() - started, settled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--party-intervals", type=int, default=100_000)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    parties = max(1, round(args.party_intervals / 96))
    rng = random.Random(14)
    with tempfile.TemporaryDirectory(prefix="temix-bench-settle-") as folder:
        url = start_embedded(Path(folder))
        try:
            upgrade(url)
            engine = engine_for(url)
            started = time.perf_counter()
            preload(engine, parties, rng)
            loaded = time.perf_counter() - started
            from service.store.markets import list_market_contexts

            with engine.connect() as conn:
                market = {m.uri: m for m in list_market_contexts(conn)}[CTX]
            now = DAY.end + timedelta(hours=1)
            first, settled = timed(engine, market, now)
            second, again = timed(engine, market, now)
            with engine.begin() as conn:
                corrected = conn.execute(text(
                    "UPDATE meter_reading SET energy_kwh = energy_kwh + 0.25 WHERE ctid IN"
                    " (SELECT ctid FROM meter_reading TABLESAMPLE BERNOULLI (1) REPEATABLE (14))"
                )).rowcount
            third, corrections = timed(engine, market, now)
            engine.dispose()
        finally:
            stop_embedded(Path(folder))
    keys = parties * 96
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lines = [
        f"# Settlement of {keys:,} party-intervals ({parties:,} parties x 96 quarter hours, 10 nodes)",
        "",
        f"`bench/settle.py --party-intervals {args.party_intervals}`, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, this 2-core"
        " machine, embedded PostgreSQL; `settle_once` in-process (what `temix settle` runs), one COMMIT per run.",
        f"Preload (COPY): {loaded:.1f} s.",
        "",
        "| run | booked | seconds | party-intervals / s |",
        "|---|---|---|---|",
        f"| first | {len(settled.transactions):,} imbalance transactions | {first:.1f} | {keys / first:,.0f} |",
        f"| again (idempotent) | {len(again.transactions):,} | {second:.1f} | {keys / second:,.0f} |",
        f"| after {corrected:,} corrected readings | {len(corrections.transactions):,} | {third:.1f} | {keys / third:,.0f} |",
        "",
        f"Peak RSS of the process: {peak_mb:,.0f} MB. Load average at the end (1/5/15 min, 2 cores):"
        f" {' / '.join(f'{x:.1f}' for x in os.getloadavg())}: other work on the machine slows every figure.",
    ]
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out:
        args.out.write_text(report)


if __name__ == "__main__":
    main()
