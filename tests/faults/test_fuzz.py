"""Fuzzing every operation over HTTP: thousands of mutated requests against a real ``temix serve``.

For each operation of ``service.pipeline.TABLE``, COUNT requests (TOTAL, 16,000, shared out
among the operations), each a valid request of that operation (its seed, in
``tests.support.fuzz_seeds``) mutated by ``tests.support.fuzz`` (structure, values, IDs,
headers, envelope, bytes), sent by two client threads on keep-alive sessions. Invariants,
checked for every request or every batch:

- a client's mistake is never a ``Server`` fault: every answer is a SOAP reply with an EI
  response code (not 5xx), or a SOAP fault whose code is not ``Server``, or 413;
- no traceback (nor any ERROR or CRITICAL line) in the server log;
- no write from a refused request: every row written is traced to the request whose
  accepted answer was logged in the same transaction (``tests.support.write_audit``), no
  read is logged, and a membership is taken out only with the registration that added it;
- the server stays up: ``/health`` answers and the process lives after every batch.

Replay: ``TEMIX_FUZZ_SEED`` (printed on failure) fixes every request; ``TEMIX_FUZZ_COUNT``
sets the count per operation for longer local runs.
"""

from __future__ import annotations

import os
import random
import re
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from lxml import etree
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from service.pipeline import TABLE
from service.soap.ns import EI, PYLD, SOAP11_ENV, WSSE, q
from service.store.embedded import start_embedded, stop_embedded
from tests.support import fuzz_seeds as seeds
from tests.support import write_audit as audit
from tests.support.fuzz import Mutator
from tests.support.server import Server, running_server

SEED = int(os.environ.get("TEMIX_FUZZ_SEED", "11"))
TOTAL = 16_000  # requests over all operations: a new operation takes its share, the run stays as long
COUNT = int(os.environ.get("TEMIX_FUZZ_COUNT", str(TOTAL // len(TABLE))))
THREADS = 2
BATCH = 250
READS = tuple(operation.name for operation in TABLE if not operation.idempotent)  # never logged
LOG_RECORD = re.compile(r"^\[?\d{4}-\d\d-\d\d [\d:]+ [+-]\d{4}\]? \[\d+\] \[(?P<level>[A-Z]+)\] (?P<message>.*)")
# 'OverflowError: ...', 'psycopg2.errors.X: ...' (not the access log's lines, nor SQLAlchemy's notes)
EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(: |$)")


@dataclass
class Market:
    server: Server
    engine: object
    seeds: seeds.Market


@pytest.fixture(scope="module")
def market():
    # registrars may create parties with a password: the seeds of EiCreatePartyRegistration do
    with running_server("--allow-insecure-password", "--allow-registrar-passwords", prefix="temix-fuzz-") as server:
        seeds.add_parties(server)
        engine = create_engine(start_embedded(server.data_dir), isolation_level="AUTOCOMMIT", poolclass=NullPool)
        try:
            yield Market(server, engine, seeds.set_up(server, COUNT))
        finally:
            engine.dispose()
            stop_embedded(server.data_dir)


# ---------------------------------------------------------------- one request


@dataclass
class Sent:
    index: int
    family: str
    detail: str
    key: tuple[str, str] | None  # (party, requestID) as the server reads them, if it can
    outcome: str  # 'code 200', 'fault Client.SchemaValidation', ...
    problem: str | None
    data: bytes


_SAFE = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True)


def key_of(data: bytes) -> tuple[str, str] | None:
    try:
        envelope = etree.fromstring(data, _SAFE)
    except etree.XMLSyntaxError:
        return None
    user = envelope.findtext(f"{q(SOAP11_ENV, 'Header')}/{q(WSSE, 'Security')}/{q(WSSE, 'UsernameToken')}/{q(WSSE, 'Username')}")
    body = envelope.find(q(SOAP11_ENV, "Body"))
    if user is None or body is None or len(body) == 0:
        return None
    request_id = next(body[0].iterchildren(q(PYLD, "requestID")), None)
    return user.strip(), (request_id.text or "").strip() if request_id is not None else ""


def judge(status: int, body: bytes) -> tuple[str, str | None]:
    """(outcome, problem): what the service answered, and what is wrong with it if anything."""
    if b"Traceback" in body:
        return f"HTTP {status}", "a traceback in the reply"
    try:
        payload = etree.fromstring(body).find(q(SOAP11_ENV, "Body"))[0]
    except (etree.XMLSyntaxError, TypeError, IndexError):
        return f"HTTP {status}", f"not a SOAP reply: {body[:160]!r}"
    if payload.tag != q(SOAP11_ENV, "Fault"):
        code = payload.findtext(f"{q(EI, 'eiResponse')}/{q(EI, 'responseCode')}")
        if status != 200 or code is None or code.startswith("5"):
            return f"HTTP {status} code {code}", "a reply without a client-side response code"
        return f"code {code}", None
    faultcode = payload.findtext("faultcode") or ""
    outcome = f"fault {faultcode}"
    if faultcode.rpartition(":")[2].startswith("Server") or status not in (500, 413):
        return outcome, f"HTTP {status} {faultcode}: {payload.findtext('faultstring')}"
    return outcome, None


class Client:
    """Sends mutated requests of one operation; one keep-alive session per thread."""

    def __init__(self, base_url: str, operation: str, market: seeds.Market):
        self.base_url = base_url
        self.operation = operation
        self.market = market
        self.local = threading.local()

    def send(self, index: int) -> Sent:
        rng = random.Random(f"{SEED}/{self.operation}/{index}")
        case = seeds.case(self.operation, self.market, index, rng)
        mutator = Mutator(rng, seeds.known_ids(self.operation, self.market, index))
        if index and rng.random() < 0.03:  # an earlier request's valid form again, written otherwise
            earlier = rng.randrange(index)
            again = seeds.case(self.operation, self.market, earlier, random.Random(f"{SEED}/{self.operation}/{earlier}"))
            mutated = mutator.retry(again, earlier)
        else:
            mutated = mutator.mutate(case)
        session = getattr(self.local, "session", None) or self._session()
        try:
            answer = session.post(
                f"{self.base_url}{case.path}", data=mutated.data, headers={"Content-Type": mutated.content_type}, timeout=60
            )
            outcome, problem = judge(answer.status_code, answer.content)
        except requests.RequestException as error:
            self.local.session = None
            outcome, problem = "no answer", f"no answer: {type(error).__name__}: {error}"
        return Sent(index, mutated.family, mutated.detail, key_of(mutated.data), outcome, problem, mutated.data)

    def _session(self) -> requests.Session:
        self.local.session = requests.Session()
        return self.local.session


# ---------------------------------------------------------------- the invariants, per batch


def check_writes(market: Market, since: audit.Mark, sent: list[Sent]) -> list[tuple[str, Sent | None]]:
    with market.engine.connect() as conn:
        written, logged, shrunk = audit.writes_since(conn, since)
    by_key = defaultdict(list)
    for item in sent:
        by_key[item.key].append(item)
    answers = {key: [item.outcome for item in items] for key, items in by_key.items()}
    problems: list[tuple[str, Sent | None]] = [(f"rows deleted: {s}", None) for s in shrunk]
    for problem, key in audit.unexplained(written, logged, answers, READS):
        problems.append((problem, next(iter(by_key.get(key, [])), None)))
    return problems


def server_log_problems(log_path: Path, offset: int) -> tuple[int, list[str]]:
    """New ERROR and CRITICAL records and tracebacks since ``offset``, each as its message and
    the exception it ends with (time and process left out, so that alike ones group)."""
    with open(log_path, "rb") as log:
        log.seek(offset)
        new = log.read()
    problems = []
    record = None
    for line in new.decode(errors="replace").splitlines() + ["[end]"]:
        starts = LOG_RECORD.match(line)
        if starts or line == "[end]":
            if record is not None:
                problems.append(record)
            record = None
            if starts and starts["level"] in ("ERROR", "CRITICAL"):
                record = f"[{starts['level']}] {starts['message'][:120]}"
        elif line.startswith("Traceback"):
            record = record or "a traceback"
        elif record is not None and EXCEPTION_LINE.match(line):  # the last is the one the traceback ends with
            record = f"{record.split(' => ')[0]} => {line[:200]}"
    return offset + len(new), problems


def check_alive(server: Server) -> str | None:
    try:
        state = Path(f"/proc/{server.pid}/status").read_text()
    except FileNotFoundError:
        return "temix serve exited"
    if "State:\tZ" in state:
        return "temix serve exited (zombie)"
    try:
        health = requests.get(f"{server.base_url}/health", timeout=10)
    except requests.RequestException as error:
        return f"/health did not answer: {error}"
    return None if health.status_code == 200 else f"/health answered {health.status_code}"


# ---------------------------------------------------------------- the test


@pytest.mark.parametrize("operation", [operation.name for operation in TABLE])
def test_mutated_requests_get_client_answers_write_nothing_and_leave_the_server_up(market, operation):
    server = market.server
    client = Client(server.base_url, operation, market.seeds)
    failures: list[tuple[str, Sent | None]] = []
    outcomes: Counter = Counter()
    offset = server.log_path.stat().st_size
    started = time.monotonic()
    with ThreadPoolExecutor(THREADS) as threads:
        for first in range(0, COUNT, BATCH):
            with market.engine.connect() as conn:
                since = audit.mark(conn)
            sent = list(threads.map(client.send, range(first, min(COUNT, first + BATCH))))
            outcomes.update(item.outcome for item in sent)
            failures += [(item.problem, item) for item in sent if item.problem]
            failures += check_writes(market, since, sent)
            offset, logged = server_log_problems(server.log_path, offset)
            failures += [(f"server log: {line}", None) for line in logged]
            down = check_alive(server)
            if down:
                failures.append((f"after requests {first}-{first + BATCH - 1}: {down}", None))
                break
    elapsed = time.monotonic() - started
    print(f"\n{operation}: {COUNT} mutated requests in {elapsed:.1f} s; answers: {dict(outcomes.most_common())}")
    if failures:
        pytest.fail(report(operation, failures), pytrace=False)


def report(operation: str, failures: list[tuple[str, Sent | None]]) -> str:
    """Failures grouped by what went wrong, a few examples each, and how to replay them."""
    groups: dict[str, list[Sent | None]] = defaultdict(list)
    for problem, item in failures:
        groups[problem[:150]].append(item)
    lines = [f"{operation}: {len(failures)} failures (TEMIX_FUZZ_SEED={SEED}, TEMIX_FUZZ_COUNT={COUNT} replays them)"]
    for problem, items in sorted(groups.items(), key=lambda group: -len(group[1])):
        lines.append(f"- {len(items)} x {problem}")
        for item in [i for i in items if i is not None][:3]:
            lines.append(f"    request {item.index} [{item.family}] {item.detail[:160]} -> {item.outcome}")
    return "\n".join(lines)
