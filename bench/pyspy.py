"""Where a worker's time goes: py-spy samples of the live workers (gunicorn or granian) under load,
folded into the steps of a request.

``record(pids, seconds, folder)`` runs ``py-spy record --idle --format raw`` on each worker;
``breakdown(files)`` reads the folded stacks and gives each sample the category of the
innermost frame that matches a rule below (so SQL done inside authentication counts as SQL).
Samples are wall time: a worker waiting for PostgreSQL (round trip, commit flush) or for
the CPU counts in the step it is in; a worker waiting for the next connection is idle.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

RATE_HZ = 200

# (category, substrings of a frame "function (file:line)"), checked outermost to innermost:
# the innermost matching frame decides.
RULES = [
    ("front: HTTP (gunicorn), access log", ("gunicorn/",)),
    ("front: granian's Python side (worker loop, access log)", ("granian/",)),
    ("front: event loop (asyncio)", ("asyncio/",)),
    ("idle: waiting for a connection", ("SyncWorker.wait (", "SyncWorker.accept (", "selectors.py")),
    ("front: RSGI bridge (environ, body, response)", ("service/front/",)),
    ("WSGI front (body read, routing)", ("service/soap/wsgi.py",)),
    ("SOAP endpoint: envelope, faults, reply serialisation", ("service/soap/endpoint.py", "spyne/")),
    ("XML parse (hardened parser + tree checks)", ("parse_document (", "_check_tree (")),
    ("schema validation of the request", ("check_request (",)),
    ("schema validation of the response", ("check_response (",)),
    ("pipeline (speaks-for, refusals, request log)", ("service/pipeline.py",)),
    ("idempotency digest (C14N 2.0 + SHA-256)", ("body_digest (", "canonical_digest (")),
    ("WS-Security token read + password check", ("service/auth/",)),
    ("handler: operation logic", ("service/handlers/",)),
    ("readers and writers: XML <-> domain", ("service/soap/mapping.py", "service/soap/readers.py", "service/soap/writers.py", "service/soap/stored.py")),
    ("handler: domain rules", ("service/domain/",)),
    ("store: repositories (statement building)", ("service/store/",)),
    ("SQLAlchemy Core: compile, bind, results", ("sqlalchemy/",)),
    ("SQL round trips (incl. the writes sent with COMMIT, and its WAL flush)", ("do_execute (", "do_executemany (", "_exec_insertmany_context (",
                                   "UnitOfWork._send (", "UnitOfWork.fetch (")),
    ("connection pool checkout and return", ("sqlalchemy/pool/", "do_ping (", "_do_ping_w_event (")),
    ("SAVEPOINT / RELEASE round trips", ("do_savepoint (", "do_release_savepoint (", "do_rollback_to_savepoint (")),
    ("COMMIT (WAL flush, synchronous_commit on)", ("do_commit (",)),
    ("ROLLBACK on return to pool", ("do_rollback (",)),
    ("front: access log", ("gunicorn/glogging.py", "logging/")),
]


def record(pids: list[int], seconds: int, folder: Path, py_spy: str | None = None, idle: bool = True) -> list[subprocess.Popen]:
    """Start one py-spy per worker; wait on the returned processes. ``idle=False`` samples only
    threads on a CPU: the table is then CPU time, not wall time."""
    folder.mkdir(parents=True, exist_ok=True)
    exe = py_spy or str(Path(sys.executable).with_name("py-spy"))
    return [
        subprocess.Popen(
            [exe, "record", "--pid", str(pid), "--rate", str(RATE_HZ), "--duration", str(seconds),
             *(["--idle"] if idle else []), "--format", "raw", "--output", str(folder / f"worker-{pid}.txt")],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        for pid in pids
    ]


def categorise(stack: str) -> str:
    category = "other"
    for frame in stack.split(";"):
        for name, needles in RULES:
            if any(needle in frame for needle in needles):
                category = name
    return category


def breakdown(files: list[Path]) -> tuple[Counter, int]:
    """Samples per category over the files, and the total number of samples."""
    counts: Counter = Counter()
    for path in files:
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            stack, _, number = line.rpartition(" ")
            if stack and number.isdigit():
                counts[categorise(stack)] += int(number)
    return counts, sum(counts.values())


def table(counts: Counter, requests: int) -> list[tuple[str, float, float]]:
    """(category, % of busy samples, ms per request) for the busy categories, largest first."""
    busy = {k: v for k, v in counts.items() if not k.startswith("idle")}
    total = sum(busy.values()) or 1
    return [
        (name, 100.0 * n / total, (n / RATE_HZ) * 1000.0 / max(requests, 1))
        for name, n in sorted(busy.items(), key=lambda item: -item[1])
    ]
