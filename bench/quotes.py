"""EiQuote's bench: what publishing trade prices costs EiCreateTransaction, and EiCreateQuote
and EiRequestQuote (100 items), on one database preloaded as run_all.py does.

Two service trees side by side, as ``fronts.py --trees``: the first without publication (the
reference), the second with it. Main itself cannot serve a database migrated to 0013 (its
`temix serve` upgrades at start and does not know that revision), so the tree "without" is
this branch with ``QuoteRepository.publish`` made a no-op: main's acceptance path plus the
quote tables it does not write. Each round, in alternating tree order: EiCreateTender then
EiCreateTransaction on the tenders just made (4 kW of each, distinct tenders) on every tree;
then, on the tree with publication, EiCreateQuote (each client quotes to the next, one quote
per hour) and EiRequestQuote (each client the 100 quotes the previous one addressed to it in
that round's window). Writes bench/results/<date>-quotes.md and .json.

    git clone -q --shared . /tmp/with && git clone -q --shared . /tmp/without
    (patch /tmp/without: service/store/quotes.py, publish() returns at once)
    .venv/bin/python bench/quotes.py --trees without=/tmp/without with=/tmp/with --rounds 3 --duration 8
"""

from __future__ import annotations

import argparse
import json
import tempfile
from datetime import date
from pathlib import Path

import fronts
import run_all  # noqa: E402  (puts the service tree on sys.path)
from fronts import FRONTS, TREES, _median, cpu_ms_per_request, start, tree_commit
from run_all import BENCH, Monitor, ScaleRun, log, machine, save_run, tear_down
from sqlalchemy import text

import preload  # noqa: E402
from baseline.app import TABLE_DDL  # noqa: E402

QUOTE_WINDOW = 100_000  # hours after 2036 where a round's quotes start (far from the tenders')


def one_round(run: ScaleRun, order: list[str], ports: dict, round_no: int, phases: dict) -> None:
    for front in order:
        tag = f"q{list(TREES).index(front)}r{round_no}"
        _, results, entry = run.phase({"kind": "create_tender", "tag": tag}, f"{front}: EiCreateTender", ports=[ports[front]])
        phases[front].append(entry | {"round": round_no})
        made = [r["result"]["made"] for r in results]
        spec = {"kind": "accept_distinct", "tag": tag + "a", "made": made, "made_tag": tag}
        _, _, entry = run.phase(spec, f"{front}: EiCreateTransaction", ports=[ports[front]])
        phases[front].append(entry | {"round": round_no})
    front = list(TREES)[-1]
    offset = QUOTE_WINDOW + 10_000 * round_no
    tag = f"qq{round_no}"
    _, results, entry = run.phase({"kind": "create_quote", "tag": tag, "offset": offset}, f"{front}: EiCreateQuote",
                                  ports=[ports[front]])
    phases[front].append(entry | {"round": round_no})
    _, _, entry = run.phase({"kind": "request_quote", "tag": tag + "r", "offset": offset}, f"{front}: EiRequestQuote",
                            ports=[ports[front]])
    phases[front].append(entry | {"round": round_no, "quotes_made": [r["result"]["made"] for r in results]})


def render(data: dict) -> str:
    names = list(data["trees"])
    out = [f"# EiQuote bench, {data['date']}", "",
           f"Scale {data['scale']:,} tenders + transactions preloaded; {data['rounds']} rounds of {data['duration']:.0f} s"
           f" per phase, {data['clients']} clients, {data['workers']} workers, closed loop. Trees: "
           + "; ".join(f"**{n}** `{t['src']}` at {t['commit']}" for n, t in data["trees"].items())
           + ". The first tree has publish() as a no-op. Rates in req/s; CPU per request in ms"
           " (server processes + PostgreSQL); other = cores other sessions used.", "",
           "| tree | operation | req/s by round | median req/s | p50 / p99 ms | CPU ms (server + pg) | items/reply | other cores | errors |",
           "|---|---|---|---|---|---|---|---|---|"]
    medians = {}
    for name in names:
        for op in ("EiCreateTender", "EiCreateTransaction", "EiCreateQuote", "EiRequestQuote"):
            entries = [e for e in data["phases"][name] if e["name"].endswith(": " + op)]
            if not entries:
                continue
            cpu = [cpu_ms_per_request(e, name) for e in entries]
            rate = _median([e["rate"] for e in entries])
            both = _median([c["server"] + c["postgres"] for c in cpu])
            medians[(name, op)] = (rate, both, [e["rate"] for e in entries], [c["server"] + c["postgres"] for c in cpu])
            items = [e["items"] for e in entries if e.get("items")]  # per reply, as load.py counts them
            by_round = ", ".join(f"{e['rate']:.0f}" for e in entries)
            latency = f"{_median([e['p50_ms'] for e in entries]):.1f} / {_median([e['p99_ms'] for e in entries]):.1f}"
            server, postgres = _median([c["server"] for c in cpu]), _median([c["postgres"] for c in cpu])
            out.append(
                f"| {name} | {op} | {by_round} | {rate:.0f} | {latency} | {both:.2f} ({server:.2f} + {postgres:.2f}) | "
                f"{f'{_median(items):.0f}' if items else '-'} | "
            )
            out[-1] += f"{_median([c['other_cores'] for c in cpu]):.2f} | {sum(e['errors'] for e in entries)} |"
    without, with_ = names[0], names[-1]
    for op in ("EiCreateTender", "EiCreateTransaction"):
        if (without, op) in medians and (with_, op) in medians:
            a, b = medians[(without, op)], medians[(with_, op)]
            paired = _median([y / x for x, y in zip(a[2], b[2]) if x])
            out += ["", f"**{op}, {with_} / {without}**: throughput {b[0] / a[0]:.2f} x (median of the rounds),"
                    f" {paired:.2f} x (median of the per-round ratios); by CPU per request {a[1] / b[1]:.2f} x"
                    f" ({a[1]:.2f} -> {b[1]:.2f} ms)."]
    return "\n".join(out) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trees", nargs=2, metavar="NAME=PATH", required=True, help="without publication, then with")
    parser.add_argument("--scale", type=int, default=10_000)
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=18380)
    parser.add_argument("--settle", type=float, default=5.0)
    parser.add_argument("--date", default=date.today().isoformat())
    parser.add_argument("--src", default=str(fronts.SRC))
    parser.add_argument("--render", metavar="JSON", help="only rewrite the markdown of an earlier run's JSON")
    args = parser.parse_args(argv)
    if args.render:
        path = Path(args.render)
        path.with_suffix(".md").write_text(render(json.loads(path.read_text())))
        return 0
    for name, _, path in (tree.partition("=") for tree in args.trees):
        TREES[name] = Path(path).resolve()
        FRONTS[name] = f"`temix serve` from {TREES[name]} at {tree_commit(TREES[name])}"
    workdir = Path(tempfile.mkdtemp(prefix="temix-quotes-", dir="/tmp"))
    monitor = Monitor()
    monitor.start()
    info = machine()
    run = ScaleRun(args, args.scale, workdir, monitor, args.port)
    ports = {name: args.port + 10 * index for index, name in enumerate(TREES)}
    phases = {name: [] for name in TREES}
    try:
        run.open_database()
        with run.engine.begin() as conn:
            conn.execute(text(TABLE_DDL))
        preload.register_parties(run.engine, run.parties + run_all.LOGIN_PARTIES_EXTRA)
        preload.register_market_context(run.engine)
        preload.preload_scale(run.engine, args.scale, run.parties, log=log)
        for name in TREES:
            start(run, name, ports[name])
        for round_no in range(args.rounds):
            order = list(TREES) if round_no % 2 == 0 else list(TREES)[::-1]
            one_round(run, order, ports, round_no, phases)
    finally:
        tear_down(run, monitor, workdir)
        data = {"date": args.date, "machine": info, "scale": args.scale, "duration": args.duration, "rounds": args.rounds,
                "clients": args.clients, "workers": args.workers, "phases": phases,
                "trees": {name: {"src": str(path), "commit": tree_commit(path)} for name, path in TREES.items()}}
        stem = BENCH / "results" / f"{args.date}-quotes"
        save_run(stem, data, render)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
