"""The HTTP fronts side by side, serving the service itself (issue 11): one run, one database,
the same client, the fronts in interleaved rounds.

    .venv/bin/python bench/fronts.py                  # every front, 10 s per phase, 30 s of slow clients
    .venv/bin/python bench/fronts.py --fronts gunicorn-sync granian baseline --rounds 5 --profile
    .venv/bin/python bench/fronts.py --duration 5 --slow-seconds 10 --fronts granian gunicorn-sync
    .venv/bin/python bench/fronts.py --trees before=/tmp/before after=/tmp/after --slow-seconds 0

Fronts: ``gunicorn-sync`` (the front before issue 11: 2 sync workers, deploy/gunicorn.conf.py),
``gunicorn-gthread`` (the same file with worker_class gthread, 4 threads), ``granian-wsgi``
(granian's own WSGI interface, bench/granian_wsgi.py) and ``granian`` (`temix serve` now:
granian RSGI + service/front/bridge.py), and ``baseline``: not a front but the reference of
issue 11's stretch target, bench/baseline (parse + validate + 1 INSERT) on gunicorn sync. Per
front and round: EiCreateTender, then EiCreateTransaction on the tenders just made (the
baseline: its one phase), 4 client processes, closed loop, HTTP/1.1 keep-alive whenever the
server keeps the connection, with CPU per request by process (run_all.py's accounting); then
50 slow clients (run by bench/slowclients.py; ``--slow-seconds 0``: none) while an ordinary
request is timed every 0.25 s; with ``--profile``, py-spy on the granian front's workers.
Writes bench/results/<date>-fronts.md and .json.

``--trees NAME=PATH ...`` instead compares service trees (e.g. before and after a change): each
tree's `temix serve` (its default front) runs from its own source, all on the one database,
the first tree the reference; a round runs every operation of run_all.py at peak (the writes,
the three reads, the contended acceptance with its exactness check), each operation on every
tree in turn. Writes bench/results/<date>-trees.md and .json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import run_all  # noqa: E402  (puts the service tree on sys.path)
from run_all import BENCH, SRC, Monitor, ScaleRun, log, machine, save_run, tear_down
from sqlalchemy import text

import preload  # noqa: E402
import pyspy  # noqa: E402
import slowclients  # noqa: E402
from baseline.app import TABLE_DDL  # noqa: E402

GTHREAD_CONFIG = """\
exec(open({base!r}).read())
worker_class = "gthread"
threads = 4
"""

FRONTS = {
    "gunicorn-sync": "gunicorn, 2 sync workers (before issue 11)",
    "gunicorn-gthread": "gunicorn, 2 gthread workers x 4 threads",
    "granian-wsgi": "granian 2.8.9 WSGI interface, 2 workers",
    "granian": "granian 2.8.9 RSGI + WsgiOverRsgi, 2 workers (temix serve now)",
    "baseline": "bench/baseline (parse + validate + 1 INSERT) on gunicorn, 2 sync workers",
}
REFERENCE, BASELINE = "gunicorn-sync", "baseline"
OPERATIONS = ("EiCreateTender", "EiCreateTransaction")
TREES: dict[str, Path] = {}  # --trees: name -> the service tree its server runs from
READS = (("request_tender", "EiRequestTender"), ("request_transaction", "EiRequestTransaction"),
         ("request_position", "EiRequestPosition"))
TREE_OPERATIONS = ("EiCreateTender", "EiCreateTransaction", "EiCancelTender", *(op for _, op in READS),
                   "EiCreateTransaction (contended)")


def server_kwargs(front: str, run: ScaleRun, port: int) -> dict:
    if front in TREES:
        return {"src": TREES[front]}  # `temix serve` as that tree ships it
    if front == BASELINE:
        return {"env": {"TEMIX_FRONT": "gunicorn"}, "app": "baseline.app:create_app"}
    if front == "gunicorn-sync":
        return {"env": {"TEMIX_FRONT": "gunicorn"}}
    if front == "gunicorn-gthread":
        config = run.dir / "gthread.conf.py"
        config.write_text(GTHREAD_CONFIG.format(base=str(SRC / "deploy" / "gunicorn.conf.py")))
        return {"env": {"TEMIX_FRONT": "gunicorn", "TEMIX_GUNICORN_CONFIG": str(config)}}
    if front == "granian-wsgi":
        return {"env": {"DATABASE_URL": run.url, "TEMIX_DATA_DIR": str(run.data_dir)},
                "command": [sys.executable, str(BENCH / "granian_wsgi.py"), "--port", str(port),
                            "--workers", str(run.args.workers)]}
    return {"env": {"TEMIX_FRONT": "granian"}}


def start(run: ScaleRun, front: str, port: int):
    log(f"front {front}: {FRONTS[front]} on port {port}")
    server = run.server(front, port, role=front, **server_kwargs(front, run, port))
    kind = "baseline" if front == BASELINE else "request_tender"
    run.phase({"kind": kind, "tag": f"w{front}"}, f"{front}: warm-up", ports=[port], duration=3, record=False)
    return server


def one_round(run: ScaleRun, front: str, port: int, round_no: int) -> list[dict]:
    """EiCreateTender, then EiCreateTransaction on the tenders it made."""
    tag = f"f{front.replace('-', '')}{round_no}"
    entries = []
    if front == BASELINE:
        _, results, entry = run.phase({"kind": "baseline", "tag": tag}, f"{front}: baseline", ports=[port])
        return [entry | {"connects": sum(r["connects"] for r in results), "round": round_no}]
    _, results, entry = run.phase({"kind": "create_tender", "tag": tag}, f"{front}: EiCreateTender", ports=[port])
    entries.append(entry | {"connects": sum(r["connects"] for r in results), "round": round_no})
    made = [r["result"]["made"] for r in results]
    _, results, entry = run.phase({"kind": "accept_distinct", "tag": tag + "a", "made": made, "made_tag": tag},
                                  f"{front}: EiCreateTransaction", ports=[port])
    entries.append(entry | {"connects": sum(r["connects"] for r in results), "round": round_no})
    return entries


def trees_round(run: ScaleRun, order: list[str], ports: dict, round_no: int, fronts: list[dict]) -> None:
    """Every operation at peak, each on every tree in ``order`` before the next operation (the
    same operation's phases within a minute of each other); the writes on the tenders each
    tree made this round."""
    tag = {front: f"t{list(TREES).index(front)}r{round_no}" for front in order}
    made = {}

    def measure(front, spec, op):
        if op.endswith("(contended)"):
            accepted = next(e for e in phases_of(front)[::-1] if e["name"].endswith(": EiCreateTransaction"))
            run.contended(spec["tag"], accepted["rate"], [ports[front]], run.clients, f"{front}: {op}")
            entry, results = run.phases[-1], []
        else:
            _, results, entry = run.phase(spec, f"{front}: {op}", ports=[ports[front]])
        phases_of(front).append(entry | {"connects": sum(r["connects"] for r in results), "round": round_no})
        return results

    def phases_of(front):
        return next(f for f in fronts if f["front"] == front)["phases"]

    for front in order:
        made[front] = [r["result"]["made"] for r in measure(front, {"kind": "create_tender", "tag": tag[front]},
                                                              "EiCreateTender")]
    for kind, op, suffix in (("accept_distinct", "EiCreateTransaction", "a"), ("cancel_tender", "EiCancelTender", "k")):
        for front in order:
            measure(front, {"kind": kind, "tag": tag[front] + suffix, "made": made[front], "made_tag": tag[front]}, op)
    for kind, op in READS:
        for front in order:
            measure(front, {"kind": kind, "tag": f"{tag[front]}{kind[8:12]}"}, op)
    for front in order:
        measure(front, {"tag": tag[front] + "c"}, "EiCreateTransaction (contended)")


def tree_commit(path: Path) -> str:
    return subprocess.run(["git", "-C", str(path), "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True).stdout.strip() or "not a git tree"


def cpu_ms_per_request(entry: dict, front: str) -> dict:
    """ms of CPU per request of the front's own processes (the idle fronts' are left out),
    PostgreSQL, the client, interrupts; and the cores other sessions used meanwhile."""
    rate = entry["rate"] or float("nan")
    cores = entry["cores"]
    server = cores.get(f"{front} (master + workers)")
    if server is None:  # a run from before each front had its own column
        server = sum(v for k, v in cores.items() if k.startswith("service"))
    figures = {"server": 1000 * server / rate, "postgres": 1000 * cores.get("postgres", 0.0) / rate,
               "client": 1000 * cores.get("bench (orchestrator, clients)", 0.0) / rate,
               "kernel_irq": 1000 * cores.get("kernel irq + softirq", 0.0) / rate,
               "other_cores": cores.get("other processes", 0.0)}
    figures["total"] = figures["server"] + figures["postgres"] + figures["client"] + figures["kernel_irq"]
    return figures


def _median(values):
    values = sorted(values)
    return values[len(values) // 2] if len(values) % 2 else (values[len(values) // 2 - 1] + values[len(values) // 2]) / 2


def summary(data: dict) -> list[dict]:
    """Per front and operation: the median over the rounds of req/s and of CPU per request, and
    the ratios to the reference front and to the baseline: of the medians (``x_rate``,
    ``x_baseline``), and the median of the per-round ratios (``_paired``: a round runs every
    front within a few minutes, so the machine's slower drift cancels; its quicker swings do not)."""
    rows = []
    operations = TREE_OPERATIONS if data.get("trees") else OPERATIONS
    for front in data["fronts"]:
        for op in (BASELINE,) if front["front"] == BASELINE else operations:
            entries = [e for e in front["phases"] if e["name"].endswith(op)]
            if not entries:
                continue
            cpu = [cpu_ms_per_request(e, front["front"]) for e in entries]
            rows.append({"front": front["front"], "op": op, "rates": [e["rate"] for e in entries],
                         "by_round": {e.get("round", i): e["rate"] for i, e in enumerate(entries)},
                         "rate": _median([e["rate"] for e in entries]),
                         "p50_ms": _median([e["p50_ms"] for e in entries]), "p99_ms": _median([e["p99_ms"] for e in entries]),
                         "connects": sum(e.get("connects", 0) for e in entries), "requests": sum(e["requests"] for e in entries),
                         "server": _median([c["server"] for c in cpu]), "postgres": _median([c["postgres"] for c in cpu]),
                         "client": _median([c["client"] for c in cpu]), "kernel_irq": _median([c["kernel_irq"] for c in cpu]),
                         "total": _median([c["total"] for c in cpu]),
                         "other": _median([c["other_cores"] for c in cpu]), "errors": sum(e["errors"] for e in entries)})
    reference_front = data["fronts"][0]["front"] if data.get("trees") else REFERENCE
    reference = {r["op"]: r for r in rows if r["front"] == reference_front}
    baseline = next((r for r in rows if r["front"] == BASELINE), None)
    for r in rows:
        b = reference.get(r["op"])
        r["x_rate"] = r["rate"] / b["rate"] if b else float("nan")
        r["x_rate_paired"] = _round_ratio(r, b)
        r["x_cpu"] = (b["server"] + b["postgres"]) / (r["server"] + r["postgres"]) if b else float("nan")
        own = r["op"] == BASELINE or not baseline
        r["x_baseline"] = float("nan") if own else r["rate"] / baseline["rate"]
        r["x_baseline_paired"] = float("nan") if own else _round_ratio(r, baseline)
        r["x_baseline_cpu"] = baseline["total"] / r["total"] if baseline and r["op"] != BASELINE else float("nan")
    return rows


def _round_ratio(row: dict, reference: dict | None) -> float:
    """The median over the rounds of row's req/s / reference's req/s in the same round."""
    if not reference:
        return float("nan")
    ratios = [rate / reference["by_round"][k] for k, rate in row["by_round"].items()
              if reference["by_round"].get(k)]
    return _median(ratios) if ratios else float("nan")


def render(data: dict) -> str:
    m = data["machine"]
    ref = data["fronts"][0]["front"] if data.get("trees") else "gunicorn sync"
    out = [f"# {'Service trees' if data.get('trees') else 'HTTP fronts'} side by side, {data['date']}", "",
           f"Machine: {m['nproc']} cores ({m['model']}), Python {m['python']}; service tree `{m['src']}` at {m['commit']}. "
           f"One embedded PostgreSQL (preloaded with {data['scale']:,} tenders and transactions), all fronts running at "
           f"once on their own ports, {data['workers']} workers each; {data['rounds']} rounds, each running "
           + (f"every operation for {data['duration']:.0f} s (the contended acceptance until its 4 tenders are filled) "
              "on every tree in turn, the writes on the tenders that tree just made, "
              if data.get("trees") else
              f"every front in turn for {data['duration']:.0f} s of EiCreateTender then {data['duration']:.0f} s of "
              "EiCreateTransaction (on the tenders it just made), ")
           + f"{data['clients']} client processes, closed loop, keep-alive whenever the "
           "server keeps the connection. The machine is shared and was busy (column 'other': cores of 2 used by other "
           "sessions during the phase): compare fronts within this run, medians over the interleaved rounds, and the "
           "CPU per request more than the rates. 'x': the ratio of the medians; 'paired': the median of the "
           "ratios within each round.", "",
           *([f"Trees (each a front above, `temix serve` run from its own source; 'x {ref}': over the first): "
              + "; ".join(f"**{name}** `{t['src']}` at {t['commit']}" for name, t in data["trees"].items())
              + ". The order of the trees alternates by round.", ""]
             if data.get("trees") else []),
           f"| front | operation | req/s (median; rounds) | x {ref}; paired | x baseline; paired | p50 / p99 ms | "
           "connections / requests | other cores | errors |",
           "|" + "---|" * 9]
    rows = summary(data)
    for r in rows:
        out.append(f"| {r['front']} | {r['op']} | {r['rate']:.0f}; {', '.join(f'{x:.0f}' for x in r['rates'])} | "
                   f"{_x(r['x_rate'])}; {_x(r['x_rate_paired'])} | {_x(r['x_baseline'])}; {_x(r['x_baseline_paired'])} | "
                   f"{r['p50_ms']:.1f} / {r['p99_ms']:.1f} | "
                   f"{r['connects']} / {r['requests']} | {r['other']:.2f} | {r['errors']} |")
    out += ["", "## CPU per request by component (ms, medians over the rounds)", "",
            "Server: the front's master and workers; PostgreSQL: the postmaster and its backends; client: the "
            "orchestrator and its 4 client processes; interrupts: the machine's irq + softirq (loopback TCP), "
            "belonging to no process. Throughput follows total CPU per request when the phases load the machine "
            "alike: 'x baseline by CPU' is the baseline's total / this total.", "",
            f"| front | operation | server | PostgreSQL | client | interrupts | total | x {ref} by server + "
            "PostgreSQL CPU | x baseline by CPU |", "|" + "---|" * 9]
    for r in rows:
        out.append(f"| {r['front']} | {r['op']} | {r['server']:.2f} | {r['postgres']:.2f} | {r['client']:.2f} | "
                   f"{r['kernel_irq']:.2f} | {r['total']:.2f} | {_x(r['x_cpu'])} | {_x(r['x_baseline_cpu'])} |")
    for label, p in (data.get("profile") or {}).items():
        out += ["", f"## Where the granian worker's CPU goes: {label} (py-spy on both workers, on-CPU samples only)", "",
                f"{p['rate']:.0f} req/s while sampled, {p['samples']:,} samples at {pyspy.RATE_HZ} Hz (py-spy's own "
                "sampling slows the workers: compare shares, and ms per request only roughly).", "",
                "| step | share of the worker's CPU | ms of CPU per request |", "|---|---|---|"]
        out += [f"| {name} | {share:.1f} % | {ms:.3f} |" for name, share, ms in p["table"]]
    if not any(front.get("slow") for front in data["fronts"]):
        return "\n".join(out) + "\n"
    out += ["", f"## 50 slow clients ({data['slow_seconds']:.0f} s of trickled heads and bodies, then they leave) and an "
            "ordinary request every 0.25 s (EiRequestTender finding nothing, on a new connection, and GET /health)", "",
            "| front | probes | p50 ms | p99 ms | max ms | probes over 100 ms | slowest (s into the run, what, ms) | "
            "slow clients dropped by the server |", "|" + "---|" * 8]
    for front in data["fronts"]:
        s = front.get("slow")
        if s:
            out.append(f"| {front['front']} | {s['probes']} | {s['p50_ms']:.1f} | {s['p99_ms']:.1f} | "
                       f"{s['max_ms']:.0f} | {s['over_100ms']} | {s['slowest'][:3]} | {s['slow_clients_dropped']} |")
    return "\n".join(out) + "\n"


def _x(value: float) -> str:
    return "-" if value != value else f"{value:.2f}"


def profile(run: ScaleRun, server, seconds: int, folder: Path) -> dict:
    """py-spy on the workers of ``server`` during EiCreateTender, then EiCreateTransaction."""
    found, made = {}, None
    for kind, label in (("create_tender", "EiCreateTender"), ("accept_distinct", "EiCreateTransaction")):
        spec = {"kind": kind, "tag": "pspy"}
        if made is not None:
            spec = {"kind": kind, "tag": "pspya", "made": made, "made_tag": "pspy"}
        spies = pyspy.record(server.worker_pids(), seconds + 2, folder / label, idle=False)
        time.sleep(1.0)
        figures, results, _ = run.phase(spec, f"{label} (profiled with py-spy)", ports=[server.port],
                                        duration=seconds, record=False)
        for spy in spies:
            spy.wait(timeout=60)
        if kind == "create_tender":
            made = [r["result"]["made"] for r in results]
        counts, total = pyspy.breakdown(list((folder / label).glob("worker-*.txt")))
        found[label] = {"rate": figures.rate, "requests": figures.requests, "samples": total,
                        "idle_share": sum(v for k, v in counts.items() if k.startswith("idle")) / max(total, 1),
                        "table": pyspy.table(counts, figures.requests)}
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fronts", nargs="+", default=list(FRONTS), choices=list(FRONTS))
    parser.add_argument("--scale", type=int, default=10_000)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--slow-seconds", type=float, default=30.0, help="0: no slow clients")
    parser.add_argument("--profile", action="store_true", help="py-spy on the granian front's workers at the end")
    parser.add_argument("--profile-dir", default=None, help="keep py-spy's folded stacks there")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=18280)
    parser.add_argument("--settle", type=float, default=5.0)
    parser.add_argument("--date", default=date.today().isoformat())
    parser.add_argument("--src", default=str(SRC))
    parser.add_argument("--trees", nargs="+", metavar="NAME=PATH",
                        help="compare these service trees (the first is the reference) on every operation")
    parser.add_argument("--render", metavar="JSON", help="only rewrite the markdown of an earlier run's JSON")
    args = parser.parse_args(argv)
    if args.render:
        path = Path(args.render)
        path.with_suffix(".md").write_text(render(json.loads(path.read_text())))
        return 0
    if REFERENCE in args.fronts:
        args.fronts.remove(REFERENCE)
        args.fronts.insert(0, REFERENCE)  # the reference comes first
    for name, _, path in (tree.partition("=") for tree in args.trees or []):
        TREES[name] = Path(path).resolve()
        FRONTS[name] = f"`temix serve` from {TREES[name]} at {tree_commit(TREES[name])}"
    if TREES:
        args.fronts = list(TREES)
    workdir = Path(tempfile.mkdtemp(prefix="temix-fronts-", dir="/tmp"))
    monitor = Monitor()
    monitor.start()
    info = machine()
    run = ScaleRun(args, args.scale, workdir, monitor, args.port)
    fronts = [{"front": front, "what": FRONTS[front], "phases": []} for front in args.fronts]
    profiled = {}
    ports = {front: args.port + 10 * index for index, front in enumerate(args.fronts)}
    try:
        run.open_database()
        with run.engine.begin() as conn:
            conn.execute(text(TABLE_DDL))
        preload.register_parties(run.engine, run.parties + run_all.LOGIN_PARTIES_EXTRA)
        preload.register_market_context(run.engine)
        preload.preload_scale(run.engine, args.scale, run.parties, log=log)
        for front in args.fronts:
            start(run, front, ports[front])
        for round_no in range(args.rounds):
            order = args.fronts if round_no % 2 == 0 else args.fronts[::-1]
            if TREES:
                trees_round(run, order, ports, round_no, fronts)
                continue
            for front in order:
                next(f for f in fronts if f["front"] == front)["phases"] += one_round(run, front, ports[front], round_no)
        for entry in fronts:
            if args.slow_seconds <= 0 or entry["front"] == BASELINE:
                continue
            run_all.settle(args.settle)
            entry["slow"] = slowclients.run(ports[entry["front"]], seconds=args.slow_seconds)
            log(f"  {entry['front']} slow clients: {entry['slow']}")
        if args.profile and "granian" in args.fronts:
            server = next(s for s in run.servers if s.name == "granian")
            folder = Path(args.profile_dir) if args.profile_dir else workdir / "profile"
            profiled = profile(run, server, int(min(15, args.duration)), folder)
    finally:
        tear_down(run, monitor, workdir)
        data = {"date": args.date, "machine": info, "scale": args.scale, "duration": args.duration,
                "slow_seconds": args.slow_seconds, "rounds": args.rounds, "clients": args.clients, "workers": args.workers,
                "fronts": fronts, "profile": profiled,
                "trees": {name: {"src": str(path), "commit": tree_commit(path)} for name, path in TREES.items()}}
        stem = BENCH / "results" / f"{args.date}-{'trees' if TREES else 'fronts'}"
        save_run(stem, data, render)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
