"""The HTTP fronts side by side, serving the service itself (issue 11): one run, one database,
the same client, one front after the other.

    /tmp/venv/bin/python bench/fronts.py                  # 15 s per phase, 30 s of slow clients
    /tmp/venv/bin/python bench/fronts.py --duration 5 --slow-seconds 10 --fronts granian gunicorn-sync

Fronts: ``gunicorn-sync`` (the front before issue 11: 2 sync workers, deploy/gunicorn.conf.py),
``gunicorn-gthread`` (the same file with worker_class gthread, 4 threads), ``granian-wsgi``
(granian's own WSGI interface, bench/granian_wsgi.py) and ``granian`` (`temix serve` now:
granian RSGI + service/front/bridge.py). Per front: EiCreateTender, then EiCreateTransaction on
the tenders just made (4 client processes, closed loop, HTTP/1.1 keep-alive whenever the
server keeps the connection), with CPU per request by process (run_all.py's accounting); then
50 slow clients (run by bench/slowclients.py) while an ordinary request is timed every 0.25 s.
Writes bench/results/<date>-fronts.md and .json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import run_all  # noqa: E402  (puts the service tree on sys.path)
from run_all import BENCH, SRC, Monitor, ScaleRun, log, machine

import preload  # noqa: E402
import slowclients  # noqa: E402

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
}


def server_kwargs(front: str, run: ScaleRun, port: int) -> dict:
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
    server = run.server(front, port, **server_kwargs(front, run, port))
    run.phase({"kind": "request_tender", "tag": f"w{front}"}, f"{front}: warm-up", ports=[port], duration=3,
              record=False)
    return server


def one_round(run: ScaleRun, front: str, port: int, round_no: int) -> list[dict]:
    """EiCreateTender, then EiCreateTransaction on the tenders it made."""
    tag = f"f{front.replace('-', '')}{round_no}"
    entries = []
    _, results, entry = run.phase({"kind": "create_tender", "tag": tag}, f"{front}: EiCreateTender", ports=[port])
    entries.append(entry | {"connects": sum(r["connects"] for r in results), "round": round_no})
    made = [r["result"]["made"] for r in results]
    _, results, entry = run.phase({"kind": "accept_distinct", "tag": tag + "a", "made": made, "made_tag": tag},
                                  f"{front}: EiCreateTransaction", ports=[port])
    entries.append(entry | {"connects": sum(r["connects"] for r in results), "round": round_no})
    return entries


def cpu_ms_per_request(entry: dict, front: str) -> dict:
    rate = entry["rate"] or float("nan")
    cores = entry["cores"]
    server = sum(v for k, v in cores.items() if k.startswith("service"))
    return {"server": 1000 * server / rate, "postgres": 1000 * cores.get("postgres", 0.0) / rate,
            "client": 1000 * cores.get("bench (orchestrator, clients)", 0.0) / rate,
            "kernel_irq": 1000 * cores.get("kernel irq + softirq", 0.0) / rate,
            "other_cores": cores.get("other processes", 0.0)}


def _median(values):
    values = sorted(values)
    return values[len(values) // 2] if len(values) % 2 else (values[len(values) // 2 - 1] + values[len(values) // 2]) / 2


def summary(data: dict) -> list[dict]:
    """Per front and operation: the median over the rounds of req/s and of CPU per request."""
    rows = []
    for front in data["fronts"]:
        for op in ("EiCreateTender", "EiCreateTransaction"):
            entries = [e for e in front["phases"] if e["name"].endswith(op)]
            cpu = [cpu_ms_per_request(e, front["front"]) for e in entries]
            rows.append({"front": front["front"], "op": op, "rates": [e["rate"] for e in entries],
                         "rate": _median([e["rate"] for e in entries]),
                         "p50_ms": _median([e["p50_ms"] for e in entries]), "p99_ms": _median([e["p99_ms"] for e in entries]),
                         "connects": sum(e["connects"] for e in entries), "requests": sum(e["requests"] for e in entries),
                         "server": _median([c["server"] for c in cpu]), "postgres": _median([c["postgres"] for c in cpu]),
                         "client": _median([c["client"] for c in cpu]), "kernel_irq": _median([c["kernel_irq"] for c in cpu]),
                         "other": _median([c["other_cores"] for c in cpu]), "errors": sum(e["errors"] for e in entries)})
    base = {r["op"]: r for r in rows if r["front"] == "gunicorn-sync"}
    for r in rows:
        b = base.get(r["op"])
        r["x_rate"] = r["rate"] / b["rate"] if b else float("nan")
        r["x_cpu"] = (b["server"] + b["postgres"]) / (r["server"] + r["postgres"]) if b else float("nan")
    return rows


def render(data: dict) -> str:
    m = data["machine"]
    out = [f"# HTTP fronts side by side, {data['date']}", "",
           f"Machine: {m['nproc']} cores ({m['model']}), Python {m['python']}; service tree `{m['src']}` at {m['commit']}. "
           f"One embedded PostgreSQL (preloaded with {data['scale']:,} tenders and transactions), all fronts running at "
           f"once on their own ports, {data['workers']} workers each; {data['rounds']} rounds, each running every front in "
           f"turn for {data['duration']:.0f} s of EiCreateTender then {data['duration']:.0f} s of EiCreateTransaction "
           f"(on the tenders it just made), {data['clients']} client processes, closed loop, keep-alive whenever the "
           "server keeps the connection. The machine is shared and was busy (column 'other': cores of 2 used by other "
           "sessions during the phase): compare fronts within this run, medians over the interleaved rounds, and the "
           "CPU per request more than the rates.", "",
           "| front | operation | req/s (median; rounds) | x gunicorn sync | p50 / p99 ms | connections / requests | "
           "server CPU ms/req | PostgreSQL ms/req | server + PostgreSQL x less than sync | client ms/req | other cores | errors |",
           "|" + "---|" * 12]
    for r in summary(data):
        out.append(f"| {r['front']} | {r['op']} | {r['rate']:.0f}; {', '.join(f'{x:.0f}' for x in r['rates'])} | "
                   f"{r['x_rate']:.2f} | {r['p50_ms']:.1f} / {r['p99_ms']:.1f} | {r['connects']} / {r['requests']} | "
                   f"{r['server']:.2f} | {r['postgres']:.2f} | {r['x_cpu']:.2f} | {r['client']:.2f} | {r['other']:.2f} | "
                   f"{r['errors']} |")
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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fronts", nargs="+", default=list(FRONTS), choices=list(FRONTS))
    parser.add_argument("--scale", type=int, default=10_000)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--slow-seconds", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=18280)
    parser.add_argument("--settle", type=float, default=5.0)
    parser.add_argument("--date", default=date.today().isoformat())
    parser.add_argument("--src", default=str(SRC))
    args = parser.parse_args(argv)
    if "gunicorn-sync" in args.fronts:
        args.fronts.remove("gunicorn-sync")
        args.fronts.insert(0, "gunicorn-sync")  # the reference comes first
    workdir = Path(tempfile.mkdtemp(prefix="temix-fronts-", dir="/tmp"))
    monitor = Monitor()
    monitor.start()
    info = machine()
    run = ScaleRun(args, args.scale, workdir, monitor, args.port)
    fronts = [{"front": front, "what": FRONTS[front], "phases": []} for front in args.fronts]
    ports = {front: args.port + 10 * index for index, front in enumerate(args.fronts)}
    try:
        run.open_database()
        preload.register_parties(run.engine, run.parties + run_all.LOGIN_PARTIES_EXTRA)
        preload.register_market_context(run.engine)
        preload.preload_scale(run.engine, args.scale, run.parties, log=log)
        for front in args.fronts:
            start(run, front, ports[front])
        for round_no in range(args.rounds):
            order = args.fronts if round_no % 2 == 0 else args.fronts[::-1]
            for front in order:
                next(f for f in fronts if f["front"] == front)["phases"] += one_round(run, front, ports[front], round_no)
        for entry in fronts:
            run_all.settle(args.settle)
            entry["slow"] = slowclients.run(ports[entry["front"]], seconds=args.slow_seconds)
            log(f"  {entry['front']} slow clients: {entry['slow']}")
    finally:
        monitor.running = False
        for server in list(run.servers):
            run.stop(server)
        if run.engine is not None:
            run.close_database()
        shutil.rmtree(workdir, ignore_errors=True)
        data = {"date": args.date, "machine": info, "scale": args.scale, "duration": args.duration,
                "slow_seconds": args.slow_seconds, "rounds": args.rounds, "clients": args.clients, "workers": args.workers, "fronts": fronts}
        stem = BENCH / "results" / f"{args.date}-fronts"
        stem.with_suffix(".json").write_text(json.dumps(data, indent=1, default=str))
        stem.with_suffix(".md").write_text(render(data))
        log(f"wrote {stem}.md and .json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
