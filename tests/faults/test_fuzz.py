"""Fuzzing every operation over HTTP: thousands of mutated requests against a real ``temix serve``.

For each operation, COUNT (2,000) requests, each a valid request of that operation mutated by
``tests.support.fuzz`` (structure, values, IDs, headers, envelope, bytes), sent by two client
threads on keep-alive sessions. Invariants, checked for every request or every batch:

- a client's mistake is never a ``Server`` fault: every answer is a SOAP reply with an EI
  response code (not 5xx), or a SOAP fault whose code is not ``Server``, or 413;
- no traceback (nor any ERROR or CRITICAL line) in the server log;
- no write from a refused request: every row written is traced to the request whose
  accepted answer was logged in the same transaction (``tests.support.write_audit``), and no
  read is logged;
- the server stays up: ``/health`` answers and the process lives after every batch.

Replay: ``TEMIX_FUZZ_SEED`` (printed on failure) fixes every request; ``TEMIX_FUZZ_COUNT``
scales the count per operation for longer local runs.
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
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from lxml import etree
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from service.soap.ns import EI, PYLD, SOAP11_ENV, WSSE, q
from service.store.embedded import start_embedded, stop_embedded
from tests.support import messages as msg
from tests.support import option_messages as opt
from tests.support import write_audit as audit
from tests.support.fuzz import Case, KnownIds, Mutator
from tests.support.server import CTX, Server, running_server

SEED = int(os.environ.get("TEMIX_FUZZ_SEED", "11"))
COUNT = int(os.environ.get("TEMIX_FUZZ_COUNT", "2000"))
THREADS = 2
BATCH = 250
CTX2 = "http://market.example.com/temix/fuzz-distribution"
# MAKER's tenders are accepted and read; SELLER creates, distributes and cancels.
MAKER, SELLER, ACCEPTOR, HOLDER, READER, OTHER = "fz-maker", "fz-seller", "fz-acceptor", "fz-holder", "fz-reader", "fz-other"
PARTIES = (MAKER, SELLER, ACCEPTOR, HOLDER, READER, OTHER)
OPTION_START = datetime(2030, 1, 1, tzinfo=UTC)
READS = ("EiRequestTender", "EiRequestTransaction", "EiRequestPosition")
LOG_RECORD = re.compile(r"^\[?\d{4}-\d\d-\d\d [\d:]+ [+-]\d{4}\]? \[\d+\] \[(?P<level>[A-Z]+)\] (?P<message>.*)")
# 'OverflowError: ...', 'psycopg2.errors.X: ...' (not the access log's lines, nor SQLAlchemy's notes)
EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(: |$)")
PREFIX = {
    "EiCreateTender": "ct", "EiDistributeTender": "dt", "EiCancelTender": "cn", "EiRequestTender": "rt",
    "EiCreateTransaction": "tx", "EiRequestTransaction": "rx", "EiRequestPosition": "rp", "EiExerciseOption": "ex",
}


def password(party: str) -> str:
    return f"{party}-secret"


@dataclass
class Market:
    server: Server
    engine: object


@pytest.fixture(scope="module")
def market():
    with running_server("--allow-insecure-password", prefix="temix-fuzz-") as server:
        server.add_market_context(CTX2, currency="USD")
        for party in PARTIES:
            contexts = (CTX, CTX2) if party in (SELLER, OTHER) else (CTX,)
            server.add_party(party, password(party), market_contexts=contexts, groups=("north",) if party == OTHER else ())
        engine = create_engine(start_embedded(server.data_dir), isolation_level="AUTOCOMMIT", poolclass=NullPool)
        try:
            set_up_objects(server)
            yield Market(server, engine)
        finally:
            engine.dispose()
            stop_embedded(server.data_dir)


def call(server: Server, path: str, payload, party: str) -> etree._Element:
    data = msg.envelope(payload, msg.username_token(party, password(party)))
    answer = requests.post(f"{server.base_url}{path}", data=data, headers={"Content-Type": "text/xml"}, timeout=60)
    reply = etree.fromstring(answer.content)
    assert reply.findtext(f".//{q(EI, 'responseCode')}") == "200", answer.content[:600]
    return reply


def set_up_objects(server: Server) -> None:
    """The objects the base requests name: tenders to accept, cancel and read, an option to exercise."""
    big = [(f"big-{k}", msg.product(quantity="1000000")) for k in range(4)]
    call(server, "/EiTender", msg.create_tender("setup-big", MAKER, ACCEPTOR, *big), MAKER)
    option = opt.option(start="2030-01-01T00:00:00Z", duration="PT8760H", quantity="1000")
    call(server, "/EiTender", msg.create_tender("setup-opt", MAKER, HOLDER, ("opt-1", option)), MAKER)
    held = opt.option(side="buy", state="transaction", start="2030-01-01T00:00:00Z", duration="PT8760H", quantity="1000")
    call(server, "/EiTransaction", msg.create_transaction("setup-optx", HOLDER, MAKER, ("optx-1", "opt-1", held)), HOLDER)
    reads = [(f"read-{k}", msg.product(start=f"2030-01-01T1{k}:00:00Z")) for k in range(3)]
    call(server, "/EiTender", msg.create_tender("setup-read", MAKER, READER, *reads), MAKER)
    bought = msg.product(side="buy", quantity="2", state="transaction", start="2030-01-01T10:00:00Z")
    call(server, "/EiTransaction", msg.create_transaction("setup-rx", READER, MAKER, ("tx-read", "read-0", bought)), READER)
    call(server, "/EiTender", msg.create_tender("setup-other", MAKER, OTHER, ("other-1", msg.product())), MAKER)
    for chunk in range(0, COUNT, 500):
        pool = [(f"pool-{k}", msg.product()) for k in range(chunk, min(COUNT, chunk + 500))]
        call(server, "/EiTender", msg.create_tender(f"setup-pool-{chunk}", SELLER, OTHER, *pool), SELLER)


# ---------------------------------------------------------------- the valid requests


def some_products(rng: random.Random, rid: str, market_context: str) -> list[tuple[str, etree._Element]]:
    return [
        (
            f"{rid}-{k}",
            msg.product(
                side=rng.choice(["sell", "buy"]), quantity=rng.choice(["10", "0.5", "1000"]),
                price=rng.choice(["0.08", "-0.01", "1.5"]), start=rng.choice([msg.START, "2030-06-01T00:00:00+02:00"]),
                duration=rng.choice(["PT1H", "PT15M", "P1D"]), receipt=rng.choice([None, "NODE-0"]),
                state=rng.choice(["tender", "indicationOfInterest"]), expires=rng.choice([None, "2029-12-31T00:00:00Z"]),
                integral_only=rng.choice([None, "true", "false"]), market_context=market_context, uid=f"u{k}",
            ),
        )
        for k in range(rng.randint(1, 3))
    ]


def base_case(operation: str, index: int, rng: random.Random) -> Case:
    rid = f"{PREFIX[operation]}-{index}"
    if operation == "EiCreateTender":
        return Case("/EiTender", msg.create_tender(rid, SELLER, OTHER, *some_products(rng, rid, CTX)), SELLER, password(SELLER))
    if operation == "EiDistributeTender":
        headers = [msg.distribution_scope(groups=("north",))] if rng.random() < 0.5 else []
        return Case("/EiTender", msg.distribute_tender(rid, SELLER, *some_products(rng, rid, CTX2)), SELLER, password(SELLER), headers)
    if operation == "EiCancelTender":
        return Case("/EiTender", msg.cancel_tender(rid, SELLER, f"pool-{index % COUNT}"), SELLER, password(SELLER))
    if operation == "EiRequestTender":
        if rng.random() < 0.5:  # tenders the fuzz of EiCreateTender and EiDistributeTender made, as stored
            made = [f"{rng.choice(['ct', 'dt'])}-{rng.randrange(COUNT)}-{rng.randrange(3)}" for _ in range(rng.randint(1, 4))]
            return Case("/EiTender", msg.request_tender(rid, OTHER, tender_ids=made), OTHER, password(OTHER))
        payload = msg.request_tender(
            rid, READER, counterparties=rng.choice([(), (MAKER,)]), market_contexts=rng.choice([(), (CTX,)]),
            tender_ids=rng.choice([(), ("read-1",), ("read-0", "read-2")]),
            intervals=rng.choice([(), ("2030-01-01T00:00:00Z/P1D",), ("2030-01-01T09:00:00Z/2030-01-01T12:00:00Z",)]),
        )
        return Case("/EiTender", payload, READER, password(READER))
    if operation == "EiCreateTransaction":
        product = msg.product(side="buy", quantity=rng.choice(["1", "0.5"]), state="transaction")
        payload = msg.create_transaction(rid, ACCEPTOR, MAKER, (rid, f"big-{rng.randrange(4)}", product))
        return Case("/EiTransaction", payload, ACCEPTOR, password(ACCEPTOR))
    if operation == "EiRequestTransaction":
        if rng.random() < 0.5:  # transactions the fuzz of EiCreateTransaction and EiExerciseOption made
            reader, prefix = rng.choice([(ACCEPTOR, "tx"), (HOLDER, "ex"), (MAKER, rng.choice(["tx", "ex"]))])
            made = [f"{prefix}-{rng.randrange(COUNT)}" for _ in range(rng.randint(1, 4))]
            return Case("/EiTransaction", msg.request_transaction(rid, reader, transaction_ids=made), reader, password(reader))
        payload = msg.request_transaction(
            rid, READER, counterparties=rng.choice([(), (MAKER,)]), market_contexts=rng.choice([(), (CTX,)]),
            transaction_ids=rng.choice([(), ("tx-read",)]), intervals=rng.choice([(), ("2030-01-01T00:00:00Z/P1D",)]),
        )
        return Case("/EiTransaction", payload, READER, password(READER))
    if operation == "EiRequestPosition":
        reader = rng.choice([READER, ACCEPTOR, HOLDER, MAKER])  # the last three hold the fuzz's transactions
        payload = msg.request_position(
            rid, reader, rng.choice(["2030-01-01T00:00:00Z", "2030-01-01T09:30:00+01:00", "2030-03-01T00:00:00Z"]),
            rng.choice(["P1D", "PT6H", "P7D"]), resolution=rng.choice([None, "PT1H", "PT15M"]),
            market_contexts=rng.choice([(), (CTX,)]), kind=rng.choice([None, "power"]), node=rng.choice([None, "NODE-1"]),
            combine=rng.random() < 0.3,
        )
        return Case("/EiTransaction", payload, reader, password(reader))
    hour = OPTION_START + timedelta(hours=1 + (index * 7919) % 8000)
    exercise = (rid, hour.strftime("%Y-%m-%dT%H:%M:%SZ"), rng.choice(["PT1H", "PT2H"]), rng.choice(["1", "0.5"]))
    return Case("/EiTransaction", opt.exercise_option(rid, HOLDER, MAKER, "optx-1", exercise), HOLDER, password(HOLDER))


def known_ids(operation: str, index: int) -> KnownIds:
    earlier = [f"setup-big", "setup-optx", "setup-pool-0"]
    return KnownIds(
        tenders=("big-0", "opt-1", "pool-0", "read-1", "other-1", "ct-0-0", "nowhere"),
        transactions=("optx-1", "tx-read", "tx-0", "ex-0", "nowhere"),
        parties=PARTIES + ("nobody",),
        request_ids=lambda rng: rng.choice(earlier + [f"{PREFIX[operation]}-{rng.randrange(max(index, 1))}"]),
    )


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

    def __init__(self, base_url: str, operation: str):
        self.base_url = base_url
        self.operation = operation
        self.local = threading.local()

    def send(self, index: int) -> Sent:
        rng = random.Random(f"{SEED}/{self.operation}/{index}")
        case = base_case(self.operation, index, rng)
        mutator = Mutator(rng, known_ids(self.operation, index))
        if index and rng.random() < 0.03:  # an earlier request's valid form again, written otherwise
            earlier = rng.randrange(index)
            mutated = mutator.retry(base_case(self.operation, earlier, random.Random(f"{SEED}/{self.operation}/{earlier}")), earlier)
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


@pytest.mark.parametrize("operation", list(PREFIX))
def test_mutated_requests_get_client_answers_write_nothing_and_leave_the_server_up(market, operation):
    server = market.server
    client = Client(server.base_url, operation)
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
