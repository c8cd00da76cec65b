"""bench/results/history.csv: the headline figures of every bench run, one row per phase.

    .venv/bin/python bench/history.py bench/results/2026-12-01-fronts.json   # add (or refresh) one run
    .venv/bin/python bench/history.py bench/results/*.json                   # rebuild from what is kept

A run's rows are replaced when its file is read again (a run is its ``source``, the results
file's name, and the ``commit`` measured), so adding a run twice changes nothing; a results file
that is deleted later keeps its figures here (and its text in git's history). Reads the JSON that run_all.py
and fronts.py write, and run_all.py's console log (``*.log``: rates and latencies only).
Columns: see ``COLUMNS``; CPU figures are ms of CPU per request of the server's processes
(front + workers), of PostgreSQL and of the bench's clients; ``other_cores`` is what other
processes on the machine used meanwhile (of 2 cores); ``x_baseline`` is a write's req/s over
the bare baseline's in the same run and scale; ``x_gunicorn_sync`` the same over the gunicorn sync front
(fronts runs only). A ``fronts.py --trees`` run gives each tree's rows its own ``commit``.
"""

from __future__ import annotations

import csv
import json
import re
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
HISTORY = BENCH / "results" / "history.csv"
COLUMNS = ["date", "commit", "source", "scale", "front", "workers", "clients", "phase_s", "operation", "req_s",
           "p50_ms", "p99_ms", "max_ms", "errors", "x_baseline", "x_gunicorn_sync", "server_cpu_ms",
           "postgres_cpu_ms", "client_cpu_ms", "other_cores"]
BASELINE = "baseline (parse+validate+1 INSERT)"
# run_all.py before issue 11 served everything on gunicorn sync workers; since, on `temix serve`'s default
GRANIAN_SINCE = "2026-12-01"


def _num(value, digits=2):
    if value is None or value != value:
        return ""
    return f"{value:.{digits}f}"


def _write(operation: str) -> bool:
    """The phases compared with the baseline (a write, as the baseline's one INSERT)."""
    return "EiCreate" in operation or "EiCancel" in operation


def _cpu(cores: dict, prefix: str, rate: float) -> dict:
    if not cores or not rate:
        return {}
    server = sum(v for k, v in cores.items() if k.startswith(prefix))
    return {"server_cpu_ms": _num(1000 * server / rate), "postgres_cpu_ms": _num(1000 * cores.get("postgres", 0.0) / rate),
            "client_cpu_ms": _num(1000 * cores.get("bench (orchestrator, clients)", 0.0) / rate),
            "other_cores": _num(cores.get("other processes", 0.0))}


def run_all_rows(data: dict, source: str) -> list[dict]:
    m = data["machine"]
    date = data["date"][:10]
    front = data.get("front") or ("gunicorn-sync" if date < GRANIAN_SINCE else "granian")
    rows = []
    for run in data["runs"]:
        scale = run["extra"]["scale"]
        baseline = next((p for p in run["phases"] if p["name"] == BASELINE), None)
        for p in run["phases"]:
            is_baseline = p["name"] == BASELINE
            rows.append({
                "date": date, "commit": m["commit"], "source": source, "scale": scale,
                "front": "gunicorn-sync" if is_baseline and date < GRANIAN_SINCE else front,
                "workers": data.get("workers", 2), "clients": p.get("clients", data["clients"]),
                "phase_s": _num(p["seconds"], 1), "operation": p["name"], "req_s": _num(p["rate"], 1),
                "p50_ms": _num(p["p50_ms"]), "p99_ms": _num(p["p99_ms"]), "max_ms": _num(p["max_ms"], 1),
                "errors": p["errors"],
                "x_baseline": _num(p["rate"] / baseline["rate"]) if baseline and _write(p["name"]) else "",
                **_cpu(p.get("cores"), "baseline" if is_baseline else "service", p["rate"]),
            })
    return rows


def fronts_rows(data: dict, source: str) -> list[dict]:
    import fronts

    m = data["machine"]
    rows = []
    trees = data.get("trees") or {}  # fronts.py --trees: each row is a tree's `temix serve` (granian)
    for r in fronts.summary(data):
        tree = trees.get(r["front"])
        rows.append({
            "date": data["date"][:10], "commit": tree["commit"] if tree else m["commit"], "source": source,
            "scale": data["scale"], "front": "granian" if tree else r["front"], "workers": data["workers"],
            "clients": data["clients"],
            "phase_s": _num(data["duration"], 1),
            "operation": BASELINE if r["op"] == fronts.BASELINE else r["op"],
            "req_s": _num(r["rate"], 1), "p50_ms": _num(r["p50_ms"]), "p99_ms": _num(r["p99_ms"]), "max_ms": "",
            "errors": r["errors"], "x_baseline": _num(r["x_baseline"]), "x_gunicorn_sync": "" if tree else _num(r["x_rate"]),
            "server_cpu_ms": _num(r["server"]), "postgres_cpu_ms": _num(r["postgres"]),
            "client_cpu_ms": _num(r["client"]), "other_cores": _num(r["other"]),
        })
    for front in data["fronts"]:
        s = front.get("slow")
        if s:
            rows.append({
                "date": data["date"][:10], "commit": m["commit"], "source": source, "scale": data["scale"],
                "front": front["front"], "workers": data["workers"], "clients": s.get("slow_clients", 50),
                "phase_s": _num(data["slow_seconds"], 1),
                "operation": "an ordinary request during 50 slow clients",
                "req_s": "", "p50_ms": _num(s["p50_ms"]), "p99_ms": _num(s["p99_ms"]), "max_ms": _num(s["max_ms"], 1),
                "errors": "",
            })
    return rows


def exchange_rows(data: dict, source: str) -> list[dict]:
    """bench/exchange.py: one row per phase and round, named after the phase."""
    m = data["machine"]
    names = {"plain": "EiCreateTender (plain counterparty, exchange bench)", "book 10^3": "EiCreateTender to the exchange,"
             " book of 10^3, no cross", "book 10^5": "EiCreateTender to the exchange, book of 10^5, no cross",
             "fill 10^5": "EiCreateTender to the exchange, book of 10^5, one fill", "EiRequestBook 10^5": "EiRequestBook,"
             " book of 10^5, depth 10"}
    return [{
        "date": data["date"][:10], "commit": data.get("commit") or m["commit"], "source": source, "scale": data["scale"],
        "front": "granian", "workers": data["workers"], "clients": data["clients"], "phase_s": _num(p["seconds"], 1),
        "operation": names.get(p["phase"], p["phase"]), "req_s": _num(p["rate"], 1), "p50_ms": _num(p["p50_ms"]),
        "p99_ms": _num(p["p99_ms"]), "max_ms": _num(p["max_ms"], 1), "errors": p["errors"],
        **_cpu(p.get("cores"), "service", p["rate"]),
    } for p in data["phases"]]


_LOG_HEAD = re.compile(r"bench of \S+ at (\S+)")
_LOG_SCALE = re.compile(r"\] scale (\d+): database")
_LOG_PHASE = re.compile(r"\]   (.+?): (\d+) req/s p50 ([\d.]+) p95 [\d.]+ p99 ([\d.]+) ms errors (\d+)")


def log_rows(text: str, source: str, date: str) -> list[dict]:
    """run_all.py's console output, for a run whose JSON was not kept."""
    commit, scale, rows, baseline = "", None, [], None
    for line in text.splitlines():
        if found := _LOG_HEAD.search(line):
            commit = found.group(1)
        elif found := _LOG_SCALE.search(line):
            scale, baseline = int(found.group(1)), None
        elif (found := _LOG_PHASE.search(line)) and scale and "warm-up" not in found.group(1) \
                and "profiled" not in found.group(1):
            name, rate = found.group(1), float(found.group(2))
            if name == BASELINE:
                baseline = rate
            rows.append({"date": date, "commit": commit, "source": source, "scale": scale, "front": "gunicorn-sync",
                         "workers": 2, "clients": 4, "operation": name, "req_s": _num(rate, 1),
                         "p50_ms": found.group(3), "p99_ms": found.group(4), "errors": found.group(5),
                         "x_baseline": _num(rate / baseline) if baseline and _write(name) else ""})
    return rows


def rows_of(path: Path) -> list[dict]:
    source = path.name
    if path.suffix == ".log":
        return log_rows(path.read_text(), source, path.name[:10])
    data = json.loads(path.read_text())
    if "fronts" in data:
        return fronts_rows(data, source)
    if "runs" not in data and isinstance(data.get("phases"), list):  # bench/exchange.py
        return exchange_rows(data, source)
    return run_all_rows(data, source)


def update(paths: list[Path], history: Path = HISTORY) -> int:
    """Add the runs' rows to ``history`` (replacing rows from the same files); returns rows added."""
    new = [row for path in paths for row in rows_of(path)]
    runs = {(row["source"], row["commit"]) for row in new}
    kept = []
    if history.exists():
        with history.open(newline="") as f:
            kept = [row for row in csv.DictReader(f) if (row["source"], row["commit"]) not in runs]
    rows = sorted(kept + new, key=lambda r: (r["date"], r["source"], int(r["scale"] or 0)))
    with history.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, restval="", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return len(new)


if __name__ == "__main__":
    sys.path.insert(0, str(BENCH.parent))
    sys.path.insert(0, str(BENCH))
    print(f"{update([Path(a) for a in sys.argv[1:]])} rows written to {HISTORY}")
