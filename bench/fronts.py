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


def measure(run: ScaleRun, front: str, port: int, slow_seconds: float) -> dict:
    log(f"front {front}: {FRONTS[front]}")
    server = run.server(front, port, **server_kwargs(front, run, port))
    out = {"front": front, "what": FRONTS[front], "phases": []}
    try:
        run.phase({"kind": "request_tender", "tag": f"w{front}"}, f"{front}: warm-up", ports=[port], duration=3,
                  record=False)
        tag = f"f{front.replace('-', '')}"
        created, results, entry = run.phase({"kind": "create_tender", "tag": tag}, f"{front}: EiCreateTender",
                                            ports=[port])
        entry["connects"] = sum(r["connects"] for r in results)
        out["phases"].append(entry)
        made = [r["result"]["made"] for r in results]
        _, results, entry = run.phase({"kind": "accept_distinct", "tag": tag + "a", "made": made, "made_tag": tag},
                                      f"{front}: EiCreateTransaction", ports=[port])
        entry["connects"] = sum(r["connects"] for r in results)
        out["phases"].append(entry)
        run_all.settle(run.args.settle)
        out["slow"] = slowclients.run(port, seconds=slow_seconds)
        log(f"  {front} slow clients: {out['slow']}")
    finally:
        run.stop(server)
    return out


def cpu_ms_per_request(entry: dict, front: str) -> dict:
    rate = entry["rate"] or float("nan")
    cores = entry["cores"]
    server = sum(v for k, v in cores.items() if k.startswith("service"))
    return {"server": 1000 * server / rate, "postgres": 1000 * cores.get("postgres", 0.0) / rate,
            "client": 1000 * cores.get("bench (orchestrator, clients)", 0.0) / rate,
            "kernel_irq": 1000 * cores.get("kernel irq + softirq", 0.0) / rate,
            "other_cores": cores.get("other processes", 0.0)}


def render(data: dict) -> str:
    m = data["machine"]
    out = [f"# HTTP fronts side by side, {data['date']}", "",
           f"Machine: {m['nproc']} cores ({m['model']}), Python {m['python']}; service tree `{m['src']}` at {m['commit']}. "
           f"One embedded PostgreSQL (preloaded with {data['scale']:,} tenders and transactions), {data['clients']} "
           f"client processes (keep-alive whenever the server keeps the connection), {data['duration']:.0f} s per phase, "
           f"{data['workers']} workers per front, fronts one after the other in this order. The machine is shared and "
           "was busy: compare the fronts within this run (same database, same client, minutes apart), not with other "
           "runs; 'other' is the CPU (cores of 2) other sessions used during the phase.", "",
           "| front | operation | req/s | x gunicorn sync | p50 / p99 ms | connections | server CPU ms/req | "
           "PostgreSQL ms/req | client ms/req | other cores | errors |", "|" + "---|" * 11]
    base = {}
    for front in data["fronts"]:
        for entry in front["phases"]:
            op = entry["name"].split(": ", 1)[1]
            if front["front"] == "gunicorn-sync":
                base[op] = entry["rate"]
            cpu = cpu_ms_per_request(entry, front["front"])
            ratio = entry["rate"] / base[op] if base.get(op) else float("nan")
            out.append(f"| {front['front']} | {op} | {entry['rate']:.0f} | {ratio:.2f} | {entry['p50_ms']:.1f} / "
                       f"{entry['p99_ms']:.1f} | {entry.get('connects', '-')} | {cpu['server']:.2f} | "
                       f"{cpu['postgres']:.2f} | {cpu['client']:.2f} | {cpu['other_cores']:.2f} | {entry['errors']} |")
    out += ["", f"## 50 slow clients ({data['slow_seconds']:.0f} s of trickled heads and bodies) and an ordinary "
            "request every 0.25 s (EiRequestTender on a new connection, and GET /health)", "",
            "| front | probes | p50 ms | p99 ms | max ms | probes over 100 ms | statuses | slow clients dropped |",
            "|" + "---|" * 8]
    for front in data["fronts"]:
        s = front.get("slow")
        if s:
            out.append(f"| {front['front']} | {s['probes']} | {s['p50_ms']:.1f} | {s['p99_ms']:.1f} | "
                       f"{s['max_ms']:.0f} | {s['over_100ms']} | {s['statuses']} | {s['slow_clients_dropped']} |")
    return "\n".join(out) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fronts", nargs="+", default=list(FRONTS), choices=list(FRONTS))
    parser.add_argument("--scale", type=int, default=10_000)
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--slow-seconds", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=18280)
    parser.add_argument("--settle", type=float, default=20.0)
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
    fronts = []
    try:
        run.open_database()
        preload.register_parties(run.engine, run.parties + run_all.LOGIN_PARTIES_EXTRA)
        preload.register_market_context(run.engine)
        preload.preload_scale(run.engine, args.scale, run.parties, log=log)
        for index, front in enumerate(args.fronts):
            fronts.append(measure(run, front, args.port + 10 * index, args.slow_seconds))
    finally:
        monitor.running = False
        for server in list(run.servers):
            run.stop(server)
        if run.engine is not None:
            run.close_database()
        data = {"date": args.date, "machine": info, "scale": args.scale, "duration": args.duration,
                "slow_seconds": args.slow_seconds, "clients": args.clients, "workers": args.workers, "fronts": fronts}
        stem = BENCH / "results" / f"{args.date}-fronts"
        stem.with_suffix(".json").write_text(json.dumps(data, indent=1, default=str))
        stem.with_suffix(".md").write_text(render(data))
        log(f"wrote {stem}.md and .json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
