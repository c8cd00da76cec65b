"""The exchange's bench (issue 16): EiCreateTender to a market context's exchange, beside
EiCreateTender to a plain counterparty, on one server and database, in the same run.

One embedded PostgreSQL, migrated, preloaded as run_all.py does at ``--scale``; CTX runs an
exchange. Each client process has its own order books (its own node, one delivery hour), so
the phases measure matching, not the book lock's queue; books of 10^3 and 10^5 resting orders
(COPY: half sells at 0.20 and up, half buys at 0.035 and down, 10 kW each, of bulk parties
that never log in). Each round, in alternating order:

- plain: EiCreateTender to the next client (``load.py``'s create_tender), the reference;
- book 10^3, book 10^5: non-crossing orders into the client's book, sells at 0.15 and buys at
  0.10 alternately (inside the spread: each reads the crossing side's first page, finds
  nothing, rests);
- fill 10^5: buys at 0.90 for 10 kW into the 10^5 book: each takes the best sell whole, one
  fill (two transactions with the exchange, four position changes, a trade price);
- EiRequestBook on the 10^5 book (one node and hour, depth 10).

Then EXPLAIN (ANALYZE, BUFFERS) of the crossing query and of the book view's query on a 10^5
book. Writes bench/results/<date>-exchange.md and .json.

    .venv/bin/python bench/exchange.py --rounds 2 --duration 6
"""

from __future__ import annotations

import argparse
import json
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import run_all  # noqa: F401, I001  (first: puts the service tree on sys.path)
from fronts import _median, cpu_ms_per_request
from run_all import BENCH, LOGIN_PARTIES_EXTRA, Monitor, ScaleRun, log, machine, save_run, tear_down

import load
import preload
from common import CTX, _token, bench_party, fill, iso
from load import Scenario
from tests.support import messages as M

EXCHANGE = CTX + "#exchange"
BOOK_START = datetime(2037, 1, 1, 10, tzinfo=UTC)
BOOKS = {"10^3": 1_000, "10^5": 100_000}
NOT_CROSSING = (("sell", "0.15"), ("buy", "0.10"))  # inside the preloaded spread, never crossing each other
PHASES = ("plain", "book 10^3", "book 10^5", "fill 10^5", "EiRequestBook 10^5")


def node_of(size: str, index: int) -> str:
    return f"XB{index}-{size.replace('^', '')}"


def tpl_order(party: str, node: str) -> bytes:
    product = M.product(side="@SIDE@", quantity="10", price="@PRICE@", start=iso(BOOK_START), node=node)
    return M.envelope(M.create_tender("@RID@", party, EXCHANGE, ("@TID@", product)), _token(party))


class Orders(Scenario):
    """Client i's orders into its own book of ``spec['book']``: alternately a sell and a buy
    that cross nothing, or (``spec['fill']``) buys that each take the best sell whole."""

    def __init__(self, spec, index, clients):
        super().__init__(spec, index, clients)
        self.template = tpl_order(bench_party(index), node_of(spec["book"], index))
        self.sides = (("buy", "0.90"),) if spec.get("fill") else NOT_CROSSING
        self.made = 0
        self.fills = 0

    def next(self):
        side, price = self.sides[self.made % len(self.sides)]
        return self.path, fill(self.template, rid=self.rid(), tid=f"{self.tag}-o{self.index}-{self.n}",
                               side=side, price=price)

    def on_reply(self, code, reply):
        if code == "200":
            self.made += 1
            self.fills += reply.count(b" 10 of 10 kW filled in 1 fill(s)")
        return code in self.expected

    def result(self):
        return {"made": self.made, "fills": self.fills}


class RequestBook(Scenario):
    item_marker = b"<temix:bid>"

    def __init__(self, spec, index, clients):
        super().__init__(spec, index, clients)
        party = bench_party(index)
        payload = M.request_book("@RID@", party, CTX, "energy", node_of(spec["book"], index), None,
                                 iso(BOOK_START), "PT1H", 10)
        self.template = M.envelope(payload, _token(party))

    def next(self):
        return self.path, fill(self.template, rid=self.rid())


load.SCENARIOS.update({"exchange_orders": Orders, "request_book": RequestBook})


def seed_books(engine, clients: int) -> None:
    """Each client's books: ``size`` resting orders of bulk parties, half each side, COPY."""
    deals = []
    for size, count in BOOKS.items():
        for index in range(clients):
            node = node_of(size, index)
            for k in range(count):
                side = "sell" if k % 2 == 0 else "buy"
                price = f"{0.20 + (k // 2) * 1e-6:.6f}" if side == "sell" else f"{0.035 - (k // 2) * 5e-7:.7f}"
                deals.append(preload.Deal(f"bulk-{k % 1000:04d}", EXCHANGE, side, BOOK_START, 60, node, price,
                                          10, 0, False, f"rest-{node}-{k}", None))
    raw = engine.raw_connection()
    try:
        preload.load_deals(raw, deals, with_transaction=False)
    finally:
        raw.close()
    preload.vacuum_analyze(engine)
    log(f"seeded {len(deals)} resting orders")


def open_exchange(engine) -> None:
    from service.store.markets import set_exchange

    with engine.begin() as conn:
        assert set_exchange(conn, CTX, True)


def one_round(run: ScaleRun, round_no: int, order: list[str], phases: list[dict]) -> None:
    specs = {
        "plain": {"kind": "create_tender", "tag": f"p{round_no}"},
        "book 10^3": {"kind": "exchange_orders", "tag": f"n3r{round_no}", "book": "10^3"},
        "book 10^5": {"kind": "exchange_orders", "tag": f"n5r{round_no}", "book": "10^5"},
        "fill 10^5": {"kind": "exchange_orders", "tag": f"f5r{round_no}", "book": "10^5", "fill": True},
        "EiRequestBook 10^5": {"kind": "request_book", "tag": f"rb{round_no}", "book": "10^5"},
    }
    for name in order:
        _, results, entry = run.phase(specs[name], name)
        fills = sum(r["result"].get("fills", 0) for r in results)
        phases.append(entry | {"round": round_no, "phase": name, "fills": fills,
                               "made": sum(r["result"].get("made", 0) for r in results)})


def explain(run: ScaleRun) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of the two queries that read a 10^5 book."""
    from service.domain.intervals import Interval
    from service.domain.tenders import Side
    from service.store.book import _CROSSING, _SIDES, _levels_query

    node = node_of("10^5", 0)
    end = BOOK_START + timedelta(hours=1)
    crosses, _, order = _SIDES[Side.SELL]
    crossing = _CROSSING.format(crosses=crosses, after="", order=order)
    now = datetime.now(UTC)
    _, levels, params = _levels_query(CTX, now, 10, 1001, "energy", ("", node), Interval(BOOK_START, end))
    queries = {
        "crossing (a buy at 0.10: no sell crosses it)": (
            crossing, [CTX, node, BOOK_START, end, "sell", "0.10", "energy", "", "USD", now, bench_party(0), 50]),
        "book view (one book, depth 10)": (levels, params),
    }
    out = []
    raw = run.engine.raw_connection()
    try:
        with raw.cursor() as cursor:
            for name, (query, params) in queries.items():
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + query, params)
                out.append(f"### {name}\n\n```\n" + "\n".join(row[0] for row in cursor.fetchall()) + "\n```\n")
    finally:
        raw.close()
    return "\n".join(out)


def render(data: dict) -> str:
    out = [f"# Exchange bench, {data['date']}", "",
           f"Scale {data['scale']:,} tenders + transactions preloaded; books per client of 10^3 and 10^5 resting"
           f" orders; {data['rounds']} rounds of {data['duration']:.0f} s per phase, {data['clients']} clients (one"
           f" book each), {data['workers']} workers, closed loop, `temix serve` at {data['commit']}. CPU per request"
           " in ms (server processes + PostgreSQL); other = cores other sessions used.", "",
           "| phase | req/s by round | median req/s | p50 / p99 ms | CPU ms (server + pg) | x plain (rate; paired; CPU) |"
           " fills | other cores | errors |",
           "|---|---|---|---|---|---|---|---|---|"]
    by_phase = {name: [e for e in data["phases"] if e["phase"] == name] for name in PHASES}
    plain = by_phase["plain"]
    medians = {}
    for name, entries in by_phase.items():
        if not entries:
            continue
        cpu = [cpu_ms_per_request(e, "service") for e in entries]
        rate = _median([e["rate"] for e in entries])
        both = _median([c["server"] + c["postgres"] for c in cpu])
        medians[name] = (rate, both)
        paired = _median([e["rate"] / p["rate"] for e, p in zip(entries, plain) if p["rate"]])
        ratio = (f"{rate / medians['plain'][0]:.2f}; {paired:.2f}; {medians['plain'][1] / both:.2f}"
                 if name != "plain" and "plain" in medians else "-")
        latency = f"{_median([e['p50_ms'] for e in entries]):.1f} / {_median([e['p99_ms'] for e in entries]):.1f}"
        server, postgres = _median([c["server"] for c in cpu]), _median([c["postgres"] for c in cpu])
        by_round = ", ".join(f"{e['rate']:.0f}" for e in entries)
        out.append(f"| {name} | {by_round} | {rate:.0f} | {latency} |"
                   f" {both:.2f} ({server:.2f} + {postgres:.2f}) | {ratio} | {sum(e['fills'] for e in entries)} |"
                   f" {_median([c['other_cores'] for c in cpu]):.2f} | {sum(e['errors'] for e in entries)} |")
    if {"plain", "book 10^5", "fill 10^5"} <= set(medians):
        plain_rate, plain_cpu = medians["plain"]
        book_rate, book_cpu = medians["book 10^5"]
        fill_rate, fill_cpu = medians["fill 10^5"]
        out += ["", f"**Matching when nothing crosses** (book of 10^5 / plain): throughput {book_rate / plain_rate:.2f} x,"
                f" CPU per request {book_cpu - plain_cpu:+.2f} ms ({plain_cpu:.2f} -> {book_cpu:.2f}); the target is"
                " at least 0.75 x.",
                f"**One fill** (fill / no-cross, both on 10^5 books): {fill_cpu - book_cpu:+.2f} ms of CPU per request"
                f" ({book_cpu:.2f} -> {fill_cpu:.2f}); throughput {fill_rate / book_rate:.2f} x."]
    out += ["", "## EXPLAIN", "", data.get("explain", "")]
    return "\n".join(out) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=10_000)
    parser.add_argument("--duration", type=float, default=6.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=18480)
    parser.add_argument("--settle", type=float, default=5.0)
    parser.add_argument("--date", default=date.today().isoformat())
    parser.add_argument("--render", metavar="JSON", help="only rewrite the markdown of an earlier run's JSON")
    args = parser.parse_args(argv)
    if args.render:
        path = Path(args.render)
        path.with_suffix(".md").write_text(render(json.loads(path.read_text())))
        return 0
    from fronts import tree_commit

    workdir = Path(tempfile.mkdtemp(prefix="temix-exchange-", dir="/tmp"))
    monitor = Monitor()
    monitor.start()
    info = machine()
    run = ScaleRun(args, args.scale, workdir, monitor, args.port)
    phases: list[dict] = []
    plan = ""
    try:
        run.open_database()
        preload.register_parties(run.engine, run.parties + LOGIN_PARTIES_EXTRA)
        preload.register_market_context(run.engine)
        open_exchange(run.engine)
        preload.preload_scale(run.engine, args.scale, run.parties, log=log)
        seed_books(run.engine, args.clients)
        run.server("service", args.port, role="service")
        run.phase({"kind": "request_tender", "tag": "warm"}, "warm-up", duration=3, record=False)
        for round_no in range(args.rounds):
            order = list(PHASES) if round_no % 2 == 0 else [*PHASES[:4][::-1], PHASES[4]]
            one_round(run, round_no, order, phases)
        plan = explain(run)
    finally:
        tear_down(run, monitor, workdir)
        data = {"date": args.date, "machine": info, "scale": args.scale, "duration": args.duration,
                "rounds": args.rounds, "clients": args.clients, "workers": args.workers, "phases": phases,
                "commit": tree_commit(BENCH.parent), "explain": plan}
        stem = BENCH / "results" / f"{args.date}-exchange"
        save_run(stem, data, render)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
