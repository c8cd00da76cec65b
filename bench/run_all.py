"""The whole bench in one command: writes bench/results/<date>.md (and .json, explain-*.txt).

    .venv/bin/python bench/run_all.py                # scales 10^4 10^5 10^6, 20 s per phase
    .venv/bin/python bench/run_all.py --scales 10000 --duration 5   # a quick look
    .venv/bin/python bench/run_all.py --src /tmp/temix-src           # measure another tree

For each scale: a fresh embedded PostgreSQL in a temporary folder, migrated; parties
registered; S tenders + S transactions preloaded by COPY (preload.py); `temix serve`
(its default front, 2 workers) started; then, with 4 client processes:
baseline (bench/baseline under the same `temix serve`), EiCreateTender, EiCreateTransaction
on distinct tenders, EiCancelTender, EiRequestTender, EiRequestTransaction and
EiRequestPosition (each at peak, the three reads also at half of their peak), and the
contended acceptance with its exactness check. On the smallest scale also: positions.verify,
the py-spy profile and the two-process scale-out; on the largest: EXPLAIN of the main
queries and pos-0's profile from 10^5 transactions. Everything started is stopped and the
temporary folders are removed (--keep keeps them).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.request
from dataclasses import asdict
from datetime import date
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))


def _bootstrap_src(argv) -> Path:
    """Put the service tree being measured first on sys.path (before importing it)."""
    src = BENCH.parent
    if "--src" in argv:
        src = Path(argv[argv.index("--src") + 1]).resolve()
    sys.path.insert(0, str(src))
    return src


SRC = _bootstrap_src(sys.argv)

import psutil  # noqa: E402
from sqlalchemy import text  # noqa: E402

import explain as explain_mod  # noqa: E402
import load  # noqa: E402
import preload  # noqa: E402
import pyspy as prof  # noqa: E402
from baseline.app import TABLE_DDL  # noqa: E402
from common import ACCEPTOR, MAKER, POSITION_PARTY, POSITION_PARTY_DAY, Figures, bench_party  # noqa: E402

LOGIN_PARTIES_EXTRA = [ACCEPTOR, MAKER, POSITION_PARTY]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def tear_down(run, monitor, workdir: Path) -> None:
    """After a bench's rounds: its servers stopped, its database closed, its folder gone."""
    monitor.running = False
    for server in list(run.servers):
        run.stop(server)
    if run.engine is not None:
        run.close_database()
    shutil.rmtree(workdir, ignore_errors=True)


def save_run(stem: Path, data: dict, render) -> None:
    """A run's figures: ``stem``.json as measured, ``stem``.md as the README's tables show them."""
    stem.with_suffix(".json").write_text(json.dumps(data, indent=1, default=str))
    stem.with_suffix(".md").write_text(render(data))
    log(f"wrote {stem}.md and .json")


# ------------------------------------------------------------------------------- processes


class Server:
    """One `temix serve` (the front's master = this process; its children are the workers)."""

    def __init__(self, name, data_dir: Path, port: int, logs: Path, *, app=None, database_url=None, workers=2,
                 env=None, command=None, role=None, src=None):
        self.name, self.data_dir, self.port, self.app = name, data_dir, port, app
        self.src = Path(src) if src else SRC  # the service tree it runs (fronts.py --trees: several)
        # role: the CPU table's column for this server's processes (fronts.py gives each its own)
        self.role = role or ("baseline" if name == "baseline" else "service")
        self.database_url, self.workers, self.logs = database_url, workers, logs
        # env: extra settings (e.g. TEMIX_FRONT); command: instead of `temix serve` (bench/fronts.py)
        self.env, self.command = env or {}, command
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TEMIX_") and k != "DATABASE_URL"}
        env["PYTHONPATH"] = f"{self.src}:{BENCH}"
        env["TEMIX_ALLOW_INSECURE_PASSWORD"] = "yes"  # the load sends PasswordText over loopback HTTP
        env.update(self.env)
        if self.database_url:
            env["DATABASE_URL"] = self.database_url
        command = self.command or [sys.executable, "-m", "service.cli", "serve", "--data-dir", str(self.data_dir),
                                   "--port", str(self.port), "--workers", str(self.workers)]
        if self.app:
            command += ["--app", self.app]
        self.logs.mkdir(parents=True, exist_ok=True)
        self.log_file = open(self.logs / f"{self.name}.log", "ab")
        self.process = subprocess.Popen(command, env=env, cwd=str(self.src), stdout=self.log_file,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}; see {self.logs}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as reply:
                    if reply.status == 200 and len(self.worker_pids()) >= self.workers:
                        time.sleep(0.5)
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not answer /health on port {self.port}")

    def worker_pids(self) -> list[int]:
        try:
            return [child.pid for child in psutil.Process(self.process.pid).children()]
        except psutil.NoSuchProcess:
            return []

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self.log_file.close()


class Monitor(threading.Thread):
    """Samples every 0.5 s: peak RSS of each worker of the servers being watched."""

    def __init__(self):
        super().__init__(daemon=True)
        self.servers: list[Server] = []
        self.peaks: dict[tuple[str, int], int] = {}
        self.running = True

    def run(self):
        while self.running:
            for server in list(self.servers):
                for pid in server.worker_pids():
                    try:
                        rss = psutil.Process(pid).memory_info().rss
                    except psutil.NoSuchProcess:
                        continue
                    key = (server.name, pid)
                    self.peaks[key] = max(self.peaks.get(key, 0), rss)
            time.sleep(0.5)

    def take(self) -> dict:
        peaks, self.peaks = self.peaks, {}
        return peaks


def cpu_snapshot() -> dict:
    """CPU seconds used so far by every process (user + system), and the time."""
    used = {}
    for process in psutil.process_iter(["pid", "cpu_times"]):
        times = process.info["cpu_times"]
        if times is not None:
            used[process.info["pid"]] = times.user + times.system
    machine = psutil.cpu_times()
    return {"used": used, "at": time.time(),
            "process": sum(getattr(machine, name, 0.0) for name in ("user", "nice", "system")),
            "interrupts": sum(getattr(machine, name, 0.0) for name in ("irq", "softirq")),
            "steal": getattr(machine, "steal", 0.0)}


def roles(servers, postmaster: int | None) -> dict[int, str]:
    """pid -> '<role> (master + workers)' / 'postgres' / 'bench ...' for the bench's processes."""
    found = {}
    me = psutil.Process()
    for child in [me] + me.children(recursive=True):
        found[child.pid] = "bench (orchestrator, clients)"
    for server in servers:
        for pid in [server.process.pid] + server.worker_pids():
            found[pid] = f"{server.role} (master + workers)"
    if postmaster:
        try:
            for p in [psutil.Process(postmaster)] + psutil.Process(postmaster).children(recursive=True):
                found[p.pid] = "postgres"
        except psutil.NoSuchProcess:
            pass
    return found


def cpu_by_role(before: dict, after: dict, role_of: dict[int, str], client_cpu: float) -> dict[str, float]:
    """Cores used per role during the phase; 'other' is everything outside the bench."""
    seconds = max(after["at"] - before["at"], 1e-6)
    totals: dict[str, float] = {}
    for pid, value in after["used"].items():
        delta = max(0.0, value - before["used"].get(pid, 0.0))
        role = role_of.get(pid, "other")
        totals[role] = totals.get(role, 0.0) + delta
    # client processes ended before the snapshot: they report their own CPU time
    totals["bench (orchestrator, clients)"] = totals.get("bench (orchestrator, clients)", 0.0) + client_cpu
    # 'other processes' from the machine's process time (user + system), so processes that
    # came and went in between count too (another session's test run starts many short ones).
    # Interrupt work (loopback TCP is mostly softirq) belongs to no process: its own column.
    bench = sum(value for role, value in totals.items() if role != "other")
    totals.pop("other", None)
    totals["other processes"] = max(0.0, after["process"] - before["process"] - bench)
    totals["kernel irq + softirq"] = after["interrupts"] - before["interrupts"]
    totals["steal (hypervisor)"] = after["steal"] - before["steal"]
    return {role: value / seconds for role, value in sorted(totals.items())}


def settle(limit: float, quiet_percent: float = 10.0) -> float:
    """Wait (up to ``limit`` s) for a second in which the whole machine is at most
    ``quiet_percent`` busy, so a phase does not start in the middle of someone else's burst.
    Returns the seconds waited."""
    started = time.time()
    while time.time() - started < limit:
        if psutil.cpu_percent(interval=1.0) <= quiet_percent:
            break
    return time.time() - started


# ------------------------------------------------------------------------------- one scale


class ScaleRun:
    def __init__(self, args, scale: int, workdir: Path, monitor: Monitor, port: int):
        self.args, self.scale, self.monitor, self.port = args, scale, monitor, port
        self.dir = workdir / f"scale-{scale}"
        self.data_dir = self.dir / "data"
        self.logs = self.dir / "logs"
        self.clients = args.clients
        self.parties = [bench_party(i) for i in range(max(8, 2 * self.clients))]
        self.phases: list[dict] = []
        self.extra: dict = {"scale": scale}
        self.servers: list[Server] = []
        self.engine = None
        self.closed = False

    # -- plumbing

    def open_database(self) -> None:
        from service.store.db import make_engine
        from service.store.embedded import start_embedded
        from service.store.migrate import upgrade

        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.url = start_embedded(self.data_dir)
        upgrade(self.url)
        self.engine = make_engine(self.url, application_name="temix-bench")
        with self.engine.connect() as conn:
            self.postmaster = conn.execute(text("SELECT pg_backend_pid()")).scalar()
            self.postmaster = psutil.Process(self.postmaster).ppid()
            self.extra["pg_settings"] = dict(conn.execute(text(
                "SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', "
                "'wal_sync_method', 'shared_buffers', 'jit', 'server_version', 'work_mem')")).all())

    def close_database(self) -> None:
        from service.store.embedded import stop_embedded

        self.closed = True
        self.engine.dispose()
        stop_embedded(self.data_dir)

    def server(self, name, port, **kwargs) -> Server:
        kwargs.setdefault("workers", self.args.workers)
        server = Server(name, self.data_dir if "database_url" not in kwargs else self.dir / f"data-{name}",
                        port, self.logs, **kwargs)
        server.start()
        self.servers.append(server)
        self.monitor.servers.append(server)
        return server

    def stop(self, server: Server) -> None:
        server.stop()
        self.monitor.servers.remove(server)
        self.servers.remove(server)

    def phase(self, spec, name, *, ports=None, clients=None, duration=None, rate=None, record=True):
        ports = ports or [self.port]
        waited = settle(self.args.settle)
        before = cpu_snapshot()
        figures, results = load.run(spec, ports=ports, clients=clients or self.clients,
                                    duration=duration or self.args.duration, rate=rate, name=name)
        after = cpu_snapshot()
        cores = cpu_by_role(before, after, roles(self.servers, self.postmaster), figures.client_cpu_s)
        entry = asdict(figures) | {"rate": figures.rate, "other_load_cores": cores.get("other processes", 0.0),
                                   "cores": cores, "scale": self.scale, "clients": clients or self.clients,
                                   "ports": ports, "settle_wait_s": waited}
        if record:
            self.phases.append(entry)
        log(f"  {name}: {figures.rate:.0f} req/s p50 {figures.p50_ms:.1f} p95 {figures.p95_ms:.1f} "
            f"p99 {figures.p99_ms:.1f} ms errors {figures.errors} items {figures.items} codes {figures.codes} "
            f"other-load {entry['other_load_cores']:.2f} {figures.note[:300]}")
        return figures, results, entry

    # -- the run

    def run(self) -> None:
        a = self.args
        log(f"scale {self.scale}: database in {self.data_dir}")
        self.open_database()
        preload.register_parties(self.engine, self.parties + LOGIN_PARTIES_EXTRA)
        self.extra["market_context_table"] = preload.register_market_context(self.engine)
        with self.engine.begin() as conn:
            conn.execute(text(TABLE_DDL))
        self.extra["preload"] = preload.preload_scale(self.engine, self.scale, self.parties, log=log)
        self.extra["tables_after_preload"] = preload.table_sizes(self.engine)
        if self.scale <= 10_000 or a.verify_all:
            self.verify("after preload")

        service = self.server("service", self.port)
        self.monitor.take()
        self.phase({"kind": "request_tender", "tag": f"w{self.scale}"}, "warm-up", duration=3, record=False)

        # baseline and service, back to back, same client
        baseline = self.server("baseline", self.port + 1, app="baseline.app:create_app")
        self.phase({"kind": "baseline", "tag": f"b{self.scale}"}, "warm-up baseline", ports=[self.port + 1],
                   duration=2, record=False)
        self.phase({"kind": "baseline", "tag": f"B{self.scale}"}, "baseline (parse+validate+1 INSERT)",
                   ports=[self.port + 1])
        self.extra["rss_baseline"] = self._rss("baseline")
        self.stop(baseline)

        tag = f"s{self.scale}"
        created, results, _ = self.phase({"kind": "create_tender", "tag": tag}, "EiCreateTender")
        made = [r["result"]["made"] for r in results]
        self.phase({"kind": "accept_distinct", "tag": tag + "a", "made": made, "made_tag": tag},
                   "EiCreateTransaction (distinct tenders)")
        self.phase({"kind": "cancel_tender", "tag": tag + "k", "made": made, "made_tag": tag}, "EiCancelTender")
        for kind, name in (("request_tender", "EiRequestTender (100 of the party's)"),
                           ("request_transaction", "EiRequestTransaction (100 of the party's)"),
                           ("request_position", "EiRequestPosition (1 day, PT5M)")):
            peak, _, _ = self.phase({"kind": kind, "tag": f"{tag}{kind[:10]}"}, name)
            self.phase({"kind": kind, "tag": f"{tag}{kind[:10]}h"}, name + " at half peak",
                       rate=max(1.0, peak.rate / 2))
        accept_rate = next(p["rate"] for p in self.phases if p["name"].startswith("EiCreateTransaction"))
        self.contended(f"{tag}c", accept_rate, [self.port], self.clients, "EiCreateTransaction (contended)")
        self.extra["rss_service"] = self._rss("service")

        if self.scale == min(a.scales):
            self.verify("after the runs")
            if not a.no_profile:
                self.profile(service)
            if not a.no_scale_out:
                self.scale_out(accept_rate)
        if self.scale == max(a.scales):
            self.explain(False)
            if not a.no_position_party:
                self.position_party()
        self.extra["tables_at_end"] = preload.table_sizes(self.engine)
        for server in list(self.servers):
            self.stop(server)
        self.close_database()

    def _rss(self, name) -> dict:
        peaks = self.monitor.take()
        return {str(pid): rss for (server, pid), rss in peaks.items() if server == name}

    def verify(self, when: str) -> None:
        from service.store.positions import verify

        started = time.perf_counter()
        with self.engine.connect() as conn:
            problems = verify(conn)
        self.extra.setdefault("verify", []).append(
            {"when": when, "problems": problems[:10], "count": len(problems), "seconds": time.perf_counter() - started})
        log(f"  positions.verify {when}: {len(problems)} problems ({time.perf_counter() - started:.1f} s)")

    def contended(self, tag, accept_rate, ports, clients, name, tenders=4) -> dict:
        """Size the tenders so they run out in about the phase's duration, then check."""
        per_tender = max(200, int(accept_rate * self.args.duration * 0.8 * 5.5 / tenders))
        deals = preload.contended_tenders(tag, tenders, per_tender)
        raw = self.engine.raw_connection()
        try:
            preload.load_deals(raw, deals, with_transaction=False)
        finally:
            raw.close()
        spec = {"kind": "accept_contended", "tag": tag, "node": "NC",
                "tenders": [(d.tender_id, d.start.strftime("%Y-%m-%dT%H:%M:%SZ")) for d in deals]}
        figures, results, entry = self.phase(spec, name, ports=ports, clients=clients,
                                             duration=self.args.duration * 3)
        check = self.check_contended(tag, results, figures)
        entry["exactness"] = check
        log(f"  {name} exactness: {check}")
        return check

    def check_contended(self, tag, results, figures: Figures) -> dict:
        with self.engine.connect() as conn:
            rows = conn.execute(text("""
                SELECT t.tender_id, t.quantity_kw, t.remaining_kw,
                       coalesce(sum(x.quantity_kw), 0) AS accepted, count(x.id) AS deals
                FROM tender t LEFT JOIN "transaction" x ON x.tender_pk = t.id
                WHERE t.party_id = :maker AND t.tender_id LIKE :pattern
                GROUP BY t.id ORDER BY t.tender_id"""), {"maker": MAKER, "pattern": f"{tag}-c%"}).all()
        seen_exhausted = set().union(*(set(r["result"]["exhausted_seen"]) for r in results))
        client_kw: dict = {}
        for r in results:
            for tid, kw in r["result"]["accepted_kw"].items():
                client_kw[tid] = client_kw.get(tid, 0) + kw
        problems = []
        for row in rows:
            if row.accepted > row.quantity_kw:
                problems.append(f"{row.tender_id}: accepted {row.accepted} > offered {row.quantity_kw}")
            if row.accepted + row.remaining_kw != row.quantity_kw:
                problems.append(f"{row.tender_id}: accepted {row.accepted} + remaining {row.remaining_kw} != offered")
            if row.tender_id in seen_exhausted and (row.remaining_kw != 0 or row.accepted != row.quantity_kw):
                problems.append(f"{row.tender_id}: refused as filled but {row.remaining_kw} remain")
            if client_kw.get(row.tender_id, 0) != row.accepted:
                problems.append(f"{row.tender_id}: clients were told {client_kw.get(row.tender_id, 0)} kW, stored {row.accepted}")
        deals = sum(row.deals for row in rows)
        if deals != figures.codes.get("200", 0):
            problems.append(f"{deals} transactions stored, {figures.codes.get('200', 0)} acceptances answered 200")
        return {
            "tenders": [(r.tender_id, float(r.quantity_kw), float(r.accepted), float(r.remaining_kw), r.deals) for r in rows],
            "exhausted": sum(1 for r in rows if r.remaining_kw == 0), "deals": deals,
            "problems": problems, "exact": not problems,
        }

    def profile(self, service: Server) -> None:
        seconds = min(15, int(self.args.duration))
        out = self.dir / "profile"
        for kind, label in (("create_tender", "EiCreateTender"), ("accept_distinct", "EiCreateTransaction")):
            spec = {"kind": kind, "tag": f"p{self.scale}{kind[:3]}"}
            if kind == "accept_distinct":
                spec |= {"made": self._profile_made, "made_tag": f"p{self.scale}cre"}
            folder = out / label
            spies = prof.record(service.worker_pids(), seconds + 2, folder)
            time.sleep(1.0)
            figures, results, _ = self.phase(spec, f"{label} (profiled with py-spy)", duration=seconds, record=False)
            for spy in spies:
                spy.wait(timeout=60)
            if kind == "create_tender":
                self._profile_made = [r["result"]["made"] for r in results]
            counts, total = prof.breakdown(list(folder.glob("worker-*.txt")))
            self.extra.setdefault("profile", {})[label] = {
                "rate": figures.rate, "requests": figures.requests, "samples": total,
                "idle_share": counts.get("idle: waiting for a connection", 0) / max(total, 1),
                "table": prof.table(counts, figures.requests),
            }
            # the folded stacks stay in the work folder (--keep keeps them); the table is in the results

    def scale_out(self, accept_rate) -> None:
        second = self.server("service-2", self.port + 2, database_url=self.url)
        ports = [self.port, self.port + 2]
        clients = 2 * self.clients
        self.phase({"kind": "request_tender", "tag": f"wx{self.scale}"}, "warm-up both", ports=ports,
                   clients=clients, duration=3, record=False)
        self.phase({"kind": "create_tender", "tag": f"x{self.scale}"}, "scale-out: EiCreateTender on 2 servers",
                   ports=ports, clients=clients)
        self.contended(f"x{self.scale}c", accept_rate, ports, clients,
                       "scale-out: EiCreateTransaction (contended) on 2 servers")
        self.extra["rss_scale_out"] = self._rss("service-2")
        self.stop(second)

    def explain(self, include_position_party: bool) -> None:
        plans, summary = explain_mod.explain_all(self.engine, include_position_party, only_position_party=include_position_party)
        suffix = "-pos" if include_position_party else ""
        path = BENCH / "results" / f"{self.args.date}-explain-{self.scale}{suffix}.txt"
        path.write_text(plans)
        self.extra.setdefault("explain", []).extend(summary)
        log(f"  EXPLAIN plans written to {path}")

    def position_party(self) -> None:
        self.extra["preload_position_party"] = preload.preload_position_party(self.engine, log=log)
        spec = {"kind": "request_position", "tag": f"pp{self.scale}", "party": POSITION_PARTY,
                "day": POSITION_PARTY_DAY}
        self.phase(spec | {"tag": f"ppw{self.scale}"}, "warm-up pos-0", duration=2, record=False)
        peak, _, _ = self.phase(spec, f"EiRequestPosition {POSITION_PARTY} (10^5 transactions, 1 day, PT5M)")
        self.phase(spec | {"tag": f"pph{self.scale}"}, f"EiRequestPosition {POSITION_PARTY} at half peak",
                   rate=max(1.0, peak.rate / 2))
        self.explain(True)


# ------------------------------------------------------------------------------- report


def machine() -> dict:
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = next((line.split(":", 1)[1].strip() for line in lscpu.splitlines() if line.startswith("Model name")), "?")
    commit = subprocess.run(["git", "-C", str(SRC), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(SRC), "status", "--porcelain", "--untracked-files=no", "service"],
                           capture_output=True, text=True).stdout.strip()
    return {"nproc": os.cpu_count(), "model": model, "python": platform.python_version(),
            "kernel": platform.release(), "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "src": str(SRC), "commit": (commit or "not a git tree") + (" + uncommitted changes in service/" if dirty else "")}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per phase (default 20)")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2,
                        help="sync workers of every server, the baseline's too (issue 5's targets: 2)")
    parser.add_argument("--port", type=int, default=18180)
    parser.add_argument("--date", default=date.today().isoformat())
    parser.add_argument("--src", default=str(SRC), help="the service tree to measure (default: this checkout)")
    parser.add_argument("--workdir", default=None, help="where the databases go (default: a new /tmp folder)")
    parser.add_argument("--keep", action="store_true", help="keep the databases and logs")
    parser.add_argument("--settle", type=float, default=60.0,
                        help="before each phase wait up to this long for the machine to be quiet (default 60 s)")
    parser.add_argument("--verify-all", action="store_true", help="positions.verify at every scale (slow at 10^6)")
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--no-scale-out", action="store_true")
    parser.add_argument("--no-position-party", action="store_true")
    args = parser.parse_args(argv)
    args.scales = sorted(args.scales)

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="temix-bench-", dir="/tmp"))
    (BENCH / "results").mkdir(exist_ok=True)
    monitor = Monitor()
    monitor.start()
    runs, started = [], time.time()
    info = machine()
    log(f"bench of {info['src']} at {info['commit']} on {info['nproc']} x {info['model']}; work in {workdir}")
    try:
        for scale in args.scales:
            run = ScaleRun(args, scale, workdir, monitor, args.port)
            runs.append(run)
            try:
                run.run()
            except Exception:
                run.extra["failed"] = traceback.format_exc()
                log(f"scale {scale} failed:\n{run.extra['failed']}")
            finally:
                write_results(args, info, runs, started)
                for server in list(run.servers):
                    server.stop()
                if getattr(run, "engine", None) is not None and not run.closed:
                    run.close_database()
    finally:
        monitor.running = False
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    write_results(args, info, runs, started)
    return 1 if any("failed" in r.extra for r in runs) else 0


def write_results(args, info, runs, started) -> None:
    """results/<date>.json and .md, rewritten after every scale so a failure keeps the rest."""
    import report

    data = {"date": args.date, "machine": info, "duration": args.duration, "clients": args.clients,
            "workers": args.workers, "front": "granian",  # `temix serve`'s default: Server.start drops TEMIX_*
            "wall_minutes": (time.time() - started) / 60,
            "runs": [{"phases": r.phases, "extra": r.extra} for r in runs]}
    json_path = BENCH / "results" / f"{args.date}.json"
    json_path.write_text(json.dumps(data, indent=1, default=str))
    md_path = BENCH / "results" / f"{args.date}.md"
    md_path.write_text(report.render(data))
    log(f"wrote {md_path} and {json_path}")


if __name__ == "__main__":
    raise SystemExit(main())
