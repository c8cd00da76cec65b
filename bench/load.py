"""The load generator: several client processes, each with its own HTTP connection, each
sending one operation's requests in a closed loop (as fast as answered) or paced (open
loop at a fixed total rate, latency counted from the scheduled send time, so a stall is
not hidden). Every request has a unique requestID; every reply's EI responseCode is read
and anything but the codes the scenario expects counts as an error.

A scenario is a small object made in the client process from a picklable spec:
``next()`` gives (path, body) or None when its pool of work is used up, ``on_reply``
says whether the code was expected, ``items`` counts the objects in a reply.

Used by run_all.py; usable alone against a server whose data run_all.py prepared:
    python bench/load.py --port 8080 --scenario request_tender --duration 10
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import time
from datetime import datetime
import traceback
from array import array
from collections import Counter

from common import (
    ACCEPTOR,
    MAKER,
    POSITION_DAY,
    WINDOW_END,
    WINDOW_START,
    Connection,
    Figures,
    bench_party,
    fill,
    interval_text,
    percentile,
    response_code,
    run_start,
    tpl_cancel_tender,
    tpl_create_tender,
    tpl_create_quote,
    tpl_create_transaction,
    tpl_request_position,
    tpl_request_quote,
    tpl_request_tender,
    tpl_request_transaction,
)

TENDER, TRANSACTION, QUOTE = "/EiTender", "/EiTransaction", "/EiQuote"


class Scenario:
    path = TENDER
    expected = frozenset({"200"})
    item_marker: bytes | None = None

    def __init__(self, spec: dict, index: int, clients: int):
        self.spec, self.index, self.clients = spec, index, clients
        self.tag = spec["tag"]
        self.n = 0

    def rid(self) -> str:
        self.n += 1
        return f"{self.tag}-r{self.index}-{self.n}"

    def next(self):
        raise NotImplementedError

    def on_reply(self, code: str, reply: bytes) -> bool:
        return code in self.expected

    def items(self, reply: bytes) -> int | None:
        return reply.count(self.item_marker) if self.item_marker else None

    def result(self) -> dict:
        return {}


class CreateTender(Scenario):
    """Client i (bench-i) offers 10 kW to bench-(i+1), one tender per hour from 2036 on, at
    its own node R<i>: the later phases accept (4 kW) and cancel exactly these."""

    def __init__(self, spec, index, clients):
        super().__init__(spec, index, clients)
        self.party = bench_party(index)
        self.template = tpl_create_tender(self.party, bench_party((index + 1) % clients), f"R{index}")
        self.made = 0

    def next(self):
        return self.path, fill(self.template, rid=self.rid(), tid=f"{self.tag}-t{self.index}-{self.made}",
                               start=run_start(self.made))

    def on_reply(self, code, reply):
        if code == "200":
            self.made += 1
        return code in self.expected

    def result(self):
        return {"made": self.made}


class Baseline(CreateTender):
    """The same EiCreateTender envelopes, sent to the baseline app."""


class AcceptDistinct(Scenario):
    """Client i (bench-i) accepts 4 kW of each tender bench-(i-1) made for it: every request
    a different tender, every client a different maker and node (no shared rows)."""

    path = TRANSACTION

    def __init__(self, spec, index, clients):
        super().__init__(spec, index, clients)
        self.party = bench_party(index)
        self.maker_index = (index - 1) % clients
        self.available = spec["made"][self.maker_index]
        self.template = tpl_create_transaction(
            self.party, bench_party(self.maker_index), f"R{self.maker_index}"
        )
        self.k = 0

    def next(self):
        if self.k >= self.available:
            return None
        k, self.k = self.k, self.k + 1
        return self.path, fill(self.template, rid=self.rid(), xid=f"{self.tag}-x{self.index}-{k}",
                               tid=f"{self.spec['made_tag']}-t{self.maker_index}-{k}", qty="4",
                               start=run_start(k))


class CancelTender(Scenario):
    """Client i withdraws its own tenders of the create phase (standing: 6 kW remain)."""

    def __init__(self, spec, index, clients):
        super().__init__(spec, index, clients)
        self.available = spec["made"][index]
        self.template = tpl_cancel_tender(bench_party(index))
        self.k = 0

    def next(self):
        if self.k >= self.available:
            return None
        k, self.k = self.k, self.k + 1
        return self.path, fill(self.template, rid=self.rid(), tid=f"{self.spec['made_tag']}-t{self.index}-{k}")


class RequestTender(Scenario):
    """bench-i's standing tenders in the reader window: 100 (50 its own, 50 addressed to it)."""

    item_marker = b"<ei:eiTender>"

    def __init__(self, spec, index, clients):
        super().__init__(spec, index, clients)
        self.template = tpl_request_tender(bench_party(index), [interval_text(WINDOW_START, WINDOW_END)])

    def next(self):
        return self.path, fill(self.template, rid=self.rid())


class RequestTransaction(Scenario):
    """bench-i's transactions in the reader window: 100 (50 as acceptor, 50 as maker)."""

    path = TRANSACTION
    item_marker = b"<ei:eiTransaction>"

    def __init__(self, spec, index, clients):
        super().__init__(spec, index, clients)
        self.template = tpl_request_transaction(bench_party(index), [interval_text(WINDOW_START, WINDOW_END)])

    def next(self):
        return self.path, fill(self.template, rid=self.rid())


class RequestPosition(Scenario):
    """A position profile over one day at PT5M (288 steps): bench-i's by default, or the one
    party of ``spec['party']`` (pos-0 and its 10^5 transactions) for every client."""

    path = TRANSACTION
    item_marker = b"<temix:step>"

    def __init__(self, spec, index, clients):
        super().__init__(spec, index, clients)
        party = spec.get("party") or bench_party(index)
        day = spec.get("day") or POSITION_DAY
        self.template = tpl_request_position(party, day)

    def next(self):
        return self.path, fill(self.template, rid=self.rid())


class AcceptContended(Scenario):
    """Every client is bench-acc, accepting 1-10 kW of the same few tenders of bench-mk until
    none is left: 410 (fully accepted) and 460 (less remains than asked) are expected; after
    a 460 the client asks 1 kW of that tender, so every tender ends at exactly 0."""

    path = TRANSACTION
    expected = frozenset({"200", "410", "460"})

    def __init__(self, spec, index, clients):
        super().__init__(spec, index, clients)
        self.tenders = list(spec["tenders"])  # (tender_id, start)
        self.node = spec["node"]
        self.template = tpl_create_transaction(ACCEPTOR, MAKER, self.node)
        self.random = random.Random(index * 7919 + len(self.tag))
        self.open = {tid for tid, _ in self.tenders}
        self.small: set[str] = set()
        self.start_of = dict(self.tenders)
        self.exhausted_seen: set[str] = set()
        self.last = None
        self.accepted_kw: Counter = Counter()

    def next(self):
        if not self.open:
            return None
        tid = self.random.choice(sorted(self.open))
        qty = 1 if tid in self.small else self.random.randint(1, 10)
        self.last = (tid, qty)
        return self.path, fill(self.template, rid=self.rid(), xid=f"{self.tag}-x{self.index}-{self.n + 1}",
                               tid=tid, qty=str(qty), start=self.start_of[tid])

    def on_reply(self, code, reply):
        tid, qty = self.last
        if code == "200":
            self.accepted_kw[tid] += qty
        elif code == "410":
            self.open.discard(tid)
            self.exhausted_seen.add(tid)
        elif code == "460":
            self.small.add(tid)
        return code in self.expected

    def result(self):
        return {"accepted_kw": dict(self.accepted_kw), "exhausted_seen": sorted(self.exhausted_seen)}


class CreateQuote(Scenario):
    """Client i (bench-i) quotes 10 kW to bench-(i+1), one quote per hour from hour
    ``spec['offset']`` after 2036 on, at its own node R<i>."""

    path = QUOTE

    def __init__(self, spec, index, clients):
        super().__init__(spec, index, clients)
        self.template = tpl_create_quote(bench_party(index), bench_party((index + 1) % clients), f"R{index}")
        self.offset = spec.get("offset", 0)
        self.made = 0

    def next(self):
        return self.path, fill(self.template, rid=self.rid(), qid=f"{self.tag}-q{self.index}-{self.made}",
                               start=run_start(self.offset + self.made))

    def on_reply(self, code, reply):
        if code == "200":
            self.made += 1
        return code in self.expected

    def result(self):
        return {"made": self.made}


class RequestQuote(Scenario):
    """bench-i asks for the quotes bench-(i-1) addressed to it in the create phase's first 100
    hours (``spec['offset']``): 100 per reply once that phase made 100 per client."""

    path = QUOTE
    item_marker = b"<ei:eiQuote>"

    def __init__(self, spec, index, clients):
        super().__init__(spec, index, clients)
        offset = spec.get("offset", 0)
        window = interval_text(datetime.fromisoformat(run_start(offset)), datetime.fromisoformat(run_start(offset + 100)))
        self.template = tpl_request_quote(bench_party(index), bench_party((index - 1) % clients), [window])

    def next(self):
        return self.path, fill(self.template, rid=self.rid())


SCENARIOS = {
    "create_quote": CreateQuote,
    "request_quote": RequestQuote,
    "create_tender": CreateTender,
    "baseline": Baseline,
    "accept_distinct": AcceptDistinct,
    "cancel_tender": CancelTender,
    "request_tender": RequestTender,
    "request_transaction": RequestTransaction,
    "request_position": RequestPosition,
    "accept_contended": AcceptContended,
}


def _client(spec, index, clients, host, ports, start_at, duration, rate, queue):
    try:
        scenario = SCENARIOS[spec["kind"]](spec, index, clients)
        conn = Connection(host, ports[index % len(ports)])
        latencies = array("d")
        codes: Counter = Counter()
        errors, samples, items, counted = 0, [], 0, 0
        interval = clients / rate if rate else None
        while time.time() < start_at:
            time.sleep(min(0.01, max(0.0, start_at - time.time())))
        cpu0 = time.process_time()
        wall0 = time.time()
        t_start = time.perf_counter()
        deadline = t_start + duration
        next_t = t_start + (index / clients) * interval if interval else None
        while True:
            now = time.perf_counter()
            if now >= deadline:
                break
            request = scenario.next()
            if request is None:
                break
            path, body = request
            if interval:
                if next_t >= deadline:
                    break
                if next_t > now:
                    time.sleep(next_t - now)
                sent = next_t
                next_t += interval
            else:
                sent = time.perf_counter()
            try:
                status, reply = conn.post(path, body)
            except Exception as error:  # noqa: BLE001 - every failure is counted and shown
                errors += 1
                if len(samples) < 5:
                    samples.append(f"{type(error).__name__}: {error}")
                conn.close()
                continue
            latencies.append(time.perf_counter() - sent)
            code = response_code(status, reply)
            codes[code] += 1
            if not scenario.on_reply(code, reply):
                errors += 1
                if len(samples) < 5:
                    samples.append(f"{code}: {reply[:600]!r}")
            found = scenario.items(reply)
            if found is not None:
                items += found
                counted += 1
        queue.put(dict(
            index=index, latencies=latencies.tobytes(), codes=dict(codes), errors=errors, samples=samples,
            items=items, counted=counted, wall0=wall0, wall1=time.time(),
            cpu=time.process_time() - cpu0, connects=conn.connects, result=scenario.result(),
        ))
    except Exception:  # noqa: BLE001
        queue.put(dict(index=index, crash=traceback.format_exc()))


def run(spec: dict, *, ports, clients=4, duration=20.0, rate=None, host="127.0.0.1", name=None):
    """Run one phase; returns (Figures, per-client results)."""
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    start_at = time.time() + 0.5
    processes = [
        context.Process(target=_client, args=(spec, i, clients, host, list(ports), start_at, duration, rate, queue))
        for i in range(clients)
    ]
    for process in processes:
        process.start()
    results = [queue.get(timeout=duration + 120) for _ in processes]
    for process in processes:
        process.join(timeout=10)
    crashed = [r["crash"] for r in results if "crash" in r]
    if crashed:
        raise RuntimeError("a client crashed:\n" + "\n".join(crashed))
    results.sort(key=lambda r: r["index"])
    latencies = []
    for r in results:
        values = array("d")
        values.frombytes(r["latencies"])
        latencies.extend(values)
    latencies.sort()
    codes: Counter = Counter()
    for r in results:
        codes.update(r["codes"])
    counted = sum(r["counted"] for r in results)
    seconds = max(r["wall1"] for r in results) - min(r["wall0"] for r in results)
    figures = Figures(
        name=name or spec["kind"],
        requests=len(latencies),
        seconds=seconds,
        errors=sum(r["errors"] for r in results),
        p50_ms=percentile(latencies, 0.50) * 1000,
        p95_ms=percentile(latencies, 0.95) * 1000,
        p99_ms=percentile(latencies, 0.99) * 1000,
        max_ms=(latencies[-1] * 1000) if latencies else float("nan"),
        codes=dict(codes),
        target_rate=rate,
        items=(sum(r["items"] for r in results) / counted) if counted else None,
        client_cpu_s=sum(r["cpu"] for r in results),
    )
    samples = [s for r in results for s in r["samples"]]
    if samples:
        figures.note = "; ".join(samples[:3])
    return figures, results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, action="append", required=True, help="repeatable: clients alternate")
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), required=True)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--rate", type=float, help="total requests/s (open loop); default: closed loop")
    parser.add_argument("--tag", default=f"cli{int(time.time())}")
    args = parser.parse_args(argv)
    figures, _ = run({"kind": args.scenario, "tag": args.tag}, ports=args.port, clients=args.clients,
                     duration=args.duration, rate=args.rate)
    print(f"{figures.name}: {figures.rate:.0f} req/s, p50 {figures.p50_ms:.1f} ms, p95 {figures.p95_ms:.1f} ms, "
          f"p99 {figures.p99_ms:.1f} ms, errors {figures.errors}, codes {figures.codes} {figures.note}")
    return 1 if figures.errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
