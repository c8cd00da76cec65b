"""Metered delivery's bench: `temix delivery import` of N readings, and EiCreateDelivery over them.

    .venv/bin/python bench/delivery.py                      # 10^6 readings, 20 s per load phase
    .venv/bin/python bench/delivery.py --readings 100000 --duration 10

A fresh embedded PostgreSQL in a temporary folder (held open by this process, so every
`temix` command and the server share it), one market context (UTC, PT15M settlement
intervals), P parties (one logs in). A CSV file of N readings (P parties x one node x
quarter hours x both directions) is written, then imported twice with `temix delivery
import` as its own process: the first import (all new) and the re-import (all unchanged),
each timed by wall clock with the peak RSS of the importing process (wait4's ru_maxrss),
the figure that says whether memory stays flat. Then `temix serve` (2 workers) and, from 4
client processes, EiCreateDelivery of one party's metered energy: "hour" asks for one hour
(4 readings), "day" for a day hour by hour (24 deliveries, 96 readings), each at peak
(closed loop) and at half of peak (paced). Writes bench/results/<date>-delivery.md and .json.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import shutil
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))

from sqlalchemy import create_engine, text  # noqa: E402

from common import Connection, percentile, response_code  # noqa: E402
from service.soap.ns import EI, EMIX, MIN, POWER, PYLD, SCALE, TEMIX, q  # noqa: E402
from service.store.embedded import start_embedded, stop_embedded  # noqa: E402
from tests.support import messages as M  # noqa: E402

CTX = "http://market.example.com/temix/bench-delivery"
CLIENT, PASSWORD = "dlv-0", "pw-dlv-0"
EPOCH = datetime(2031, 1, 1, tzinfo=UTC)
QUARTER = timedelta(minutes=15)
CLIENTS = 4


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def temix(data_dir: Path, *args: str, stdin: str = "") -> None:
    import subprocess

    done = subprocess.run([sys.executable, "-m", "service.cli", *args, "--data-dir", str(data_dir)], input=stdin,
                          capture_output=True, text=True, env=_env(), cwd=str(BENCH.parent))
    if done.returncode:
        raise RuntimeError(f"temix {' '.join(args)}: {done.stderr}")


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEMIX_") and k != "DATABASE_URL"}
    env["PYTHONPATH"] = str(BENCH.parent)
    env["TEMIX_ALLOW_INSECURE_PASSWORD"] = "yes"
    return env


def write_csv(path: Path, parties: int, quarters: int) -> int:
    rng = random.Random(14)
    rows = 0
    with path.open("w") as out:
        out.write("party,market_context,interface,interval_start,duration,injection,energy_kwh\n")
        for k in range(quarters):
            start = (EPOCH + k * QUARTER).strftime("%Y-%m-%dT%H:%M:%SZ")
            for p in range(parties):
                out.write(f"dlv-{p},{CTX},NODE-1,{start},PT15M,false,{rng.randint(0, 2000) / 1000}\n")
                out.write(f"dlv-{p},{CTX},NODE-1,{start},PT15M,true,{rng.randint(0, 500) / 1000}\n")
                rows += 2
    return rows


def timed_import(data_dir: Path, path: Path) -> dict:
    """Wall time and the importing process's peak RSS (its own, from wait4)."""
    import subprocess

    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "service.cli", "delivery", "import", str(path), "--data-dir",
                                str(data_dir)], env=_env(), cwd=str(BENCH.parent), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    out = process.stdout.read().decode()
    process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise RuntimeError(f"import failed: {out}")
    return {"seconds": seconds, "peak_rss_mb": usage.ru_maxrss / 1024, "report": out.strip()}


# ----------------------------------------------------------------------- EiCreateDelivery


def delivery_template(hours: int) -> bytes:
    """An EiCreateDelivery envelope asking for ``hours`` deliveries of one hour from @START@+k."""
    deliveries = []
    for k in range(hours):
        deliveries.append(M.el(
            q(EMIX, "delivery"), None,
            M.el(q(MIN, "dtStart"), None, M.el(q(MIN, "dateTime"), f"@H{k}@")),
            M.el(q(MIN, "duration"), "PT1H"),
            M.el(q(TEMIX, "meteredPower"), None,
                 M.el(q(POWER, "pnode"), None, M.el(q(POWER, "node"), "NODE-1")),
                 M.el(q(POWER, "energyReal"), None, M.el(q(POWER, "itemDescription"), "RealEnergy"),
                      M.el(q(POWER, "itemUnits"), "Wh"), M.el(q(SCALE, "siScaleCode"), "k")),
                 M.el(q(EMIX, "marketContext"), CTX)),
            M.el(q(EMIX, "uid"), f"d{k}"),
            M.el(q(EMIX, "injection"), "false"),
        ))
    payload = M.el(q(PYLD, "eiCreateDelivery"), None, M.el(q(PYLD, "requestID"), "@RID@"),
                   M.el(q(EI, "requestorPartyID"), CLIENT), *deliveries)
    return M.envelope(payload, M.username_token(CLIENT, PASSWORD))


def _client(index: int, port: int, hours: int, days: int, duration: float, rate: float | None, start_at: float, queue):
    template = delivery_template(hours)
    rng = random.Random(index)
    connection = Connection("127.0.0.1", port)
    latencies, codes = [], {}
    while time.time() < start_at:
        time.sleep(0.005)
    end = start_at + duration
    sent = 0
    while True:
        due = time.time()
        if rate:  # paced: latency from the scheduled send time, so a stall is not hidden
            due = start_at + sent / rate
            if due > end:
                break
            time.sleep(max(0.0, due - time.time()))
        elif due >= end:
            break
        first = EPOCH + timedelta(hours=rng.randrange(days * 24 - hours))
        body = template.replace(b"@RID@", f"r{index}-{sent}".encode())
        for k in range(hours):
            body = body.replace(f"@H{k}@".encode(), (first + timedelta(hours=k)).strftime("%Y-%m-%dT%H:%M:%SZ").encode())
        began = due if rate else time.time()
        status, reply = connection.post("/EiDelivery", body)
        latencies.append((time.time() - began) * 1000)
        code = response_code(status, reply)
        codes[code] = codes.get(code, 0) + 1
        sent += 1
    queue.put((latencies, codes))


def load(port: int, hours: int, days: int, duration: float, rate: float | None = None) -> dict:
    queue = multiprocessing.Queue()
    start_at = time.time() + 1.0
    per_client = rate / CLIENTS if rate else None
    workers = [multiprocessing.Process(target=_client, args=(i, port, hours, days, duration, per_client, start_at, queue))
               for i in range(CLIENTS)]
    for worker in workers:
        worker.start()
    latencies, codes = [], {}
    for _ in workers:
        some, counted = queue.get()
        latencies += some
        for code, n in counted.items():
            codes[code] = codes.get(code, 0) + n
    for worker in workers:
        worker.join()
    latencies.sort()
    return {"requests": len(latencies), "rate": len(latencies) / duration, "p50_ms": percentile(latencies, 0.5),
            "p99_ms": percentile(latencies, 0.99), "max_ms": latencies[-1] if latencies else None, "codes": codes}


def serve(data_dir: Path, port: int):
    import subprocess
    import urllib.request

    process = subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--data-dir", str(data_dir), "--port",
                                str(port), "--workers", "2"], env=_env(), cwd=str(BENCH.parent),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    for _ in range(300):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as reply:
                if reply.status == 200:
                    time.sleep(1.0)
                    return process
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("temix serve did not answer /health")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=1_000_000)
    parser.add_argument("--parties", type=int, default=100)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--port", type=int, default=18190)
    parser.add_argument("--date", default=date.today().isoformat())
    args = parser.parse_args(argv)
    quarters = args.readings // (2 * args.parties)
    folder = Path(tempfile.mkdtemp(prefix="temix-bench-delivery-"))
    data_dir = folder / "data"
    server = None
    try:
        url = start_embedded(data_dir)  # held by this process: every command below shares it
        temix(data_dir, "market-context", "add", CTX, "--settlement-interval", "PT15M")
        temix(data_dir, "party", "add", CLIENT, "--password-stdin", f"--market-context={CTX}", stdin=PASSWORD + "\n")
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO party (party_id, password_hash) SELECT 'dlv-' || i, 'x'"
                              " FROM generate_series(1, :n) i"), {"n": args.parties - 1})
        engine.dispose()
        path = folder / "readings.csv"
        log(f"writing {quarters * 2 * args.parties:,} readings")
        rows = write_csv(path, args.parties, quarters)
        log(f"{path.stat().st_size / 1e6:.0f} MB; importing")
        load_before = os.getloadavg()[0]
        first = timed_import(data_dir, path)
        log(f"first import: {first}")
        again = timed_import(data_dir, path)
        log(f"re-import: {again}")
        server = serve(data_dir, args.port)
        days = quarters // 96
        phases = {}
        for name, hours in (("hour", 1), ("day", 24)):
            load(args.port, hours, days, 3.0)  # warm the workers' caches
            peak = load(args.port, hours, days, args.duration)
            half = load(args.port, hours, days, args.duration, rate=peak["rate"] / 2)
            phases[name] = {"peak": peak, "half": half}
            log(f"EiCreateDelivery {name}: peak {peak['rate']:.0f} req/s p99 {peak['p99_ms']:.1f} ms;"
                f" half {half['rate']:.0f} req/s p99 {half['p99_ms']:.1f} ms")
        data = {"date": args.date, "readings": rows, "parties": args.parties, "days": days, "clients": CLIENTS,
                "duration": args.duration, "cpus": os.cpu_count(),
                "load_average": [load_before, os.getloadavg()[0]], "import": first, "reimport": again, "phases": phases}
        results = BENCH / "results"
        (results / f"{args.date}-delivery.json").write_text(json.dumps(data, indent=2) + "\n")
        (results / f"{args.date}-delivery.md").write_text(render(data))
        print(render(data))
    finally:
        if server is not None:
            import signal

            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=60)
        stop_embedded(data_dir)
        shutil.rmtree(folder, ignore_errors=True)
    return 0


def render(data: dict) -> str:
    out = [
        f"# Metered delivery bench, {data['date']}", "",
        f"{data['readings']:,} readings ({data['parties']} parties x one node x {data['days']} days of quarter hours x"
        f" both directions), embedded PostgreSQL, {data['cpus']} cores shared with other sessions;"
        f" `temix serve` 2 workers, {data['clients']} client processes, {data['duration']:.0f} s per phase."
        + (f" Load average (1 min) before the import and after the last phase: {data['load_average'][0]:.1f},"
           f" {data['load_average'][1]:.1f}." if "load_average" in data else ""), "",
        "| import | seconds | readings/s | peak RSS of the import process | report |", "|---|---|---|---|---|",
    ]
    for name in ("import", "reimport"):
        run = data[name]
        out.append(f"| {'first (all new)' if name == 'import' else 're-import (all unchanged)'} | {run['seconds']:.1f}"
                   f" | {data['readings'] / run['seconds']:,.0f} | {run['peak_rss_mb']:.0f} MB | {run['report']} |")
    out += ["", "| EiCreateDelivery | load | req/s | p50 ms | p99 ms | max ms | codes |", "|---|---|---|---|---|---|---|"]
    for name, phase in data["phases"].items():
        label = "one hour (4 readings)" if name == "hour" else "a day hour by hour (24 deliveries, 96 readings)"
        for load_name, run in phase.items():
            out.append(f"| {label} | {'peak (closed loop)' if load_name == 'peak' else 'half of peak (paced)'}"
                       f" | {run['rate']:.0f} | {run['p50_ms']:.1f} | {run['p99_ms']:.1f} | {run['max_ms']:.1f} | {run['codes']} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.exit(main())
