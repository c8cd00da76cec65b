"""Prometheus metrics (prometheus_client), served at ``GET /metrics``.

Several worker processes serve, so ``temix serve`` runs prometheus_client's multi-process
mode: it makes a folder of its own for the run and names it in ``PROMETHEUS_MULTIPROC_DIR``
before any worker starts (``service.observe.folder``); each worker writes its values into memory-mapped
files there, and the worker that answers a scrape sums them all. Counters and histograms of a
worker that died stay counted (its files stay); its live gauges (the pool's) are dropped at the
next scrape (``_forget_dead_workers``). Without the variable (a test calling ``create_app``) the
values live in this process alone.

On the request path each request costs a counter and a histogram (a few memory writes); the
gauges of standing tenders and transactions per market context are counted by the database
when scraped, at most once per ``DATABASE_GAUGES_TTL`` per worker, never on a request.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from service.observe import Exchange
from service.observe.folder import MULTIPROC_VARIABLE, is_alive

# seconds, from a fraction of a millisecond (a cached read) to the 30 s a request may take
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
DATABASE_GAUGES_TTL = 15.0  # seconds a worker reuses its last count of tenders and transactions
DATABASE_GAUGES_TIMEOUT_MS = 2000
_LIVE_GAUGE_FILE = re.compile(r"gauge_live\w+?_(\d+)\.db")

# Standing as EiRequestTender means it (not cancelled, not filled, not expired, delivery not
# started), for actionable tenders (quotes are not); the standing indexes' predicate first.
# Both counts in one statement: one snapshot.
DATABASE_COUNTS = text(
    "SELECT 'standing', market_context, count(*) FROM tender"
    " WHERE cancelled_at IS NULL AND remaining_kw > 0 AND transactive_state = 'tender'"
    " AND (expires_at IS NULL OR expires_at > now()) AND start_at > now()"
    " GROUP BY market_context"
    " UNION ALL"
    ' SELECT \'transactions\', market_context, count(*) FROM "transaction" GROUP BY market_context'
)


class Metrics:
    """One worker's metrics. ``operations`` maps payload tag -> operation name (the pipeline's
    table), so a request is counted under its operation, or ``unknown`` if none was read."""

    def __init__(self, operations: Mapping[str, str], engine: Engine | None = None):
        self.operations = operations
        self.folder = os.environ.get(MULTIPROC_VARIABLE) or None
        self.registry = CollectorRegistry()  # this process's values (read when not multi-process)
        self.requests = Counter(
            "temix_requests", "SOAP requests answered, by operation and by EI response code or SOAP fault code",
            ("operation", "code", "fault"), registry=self.registry,
        )
        self.latency = Histogram(
            "temix_request_duration_seconds", "Time from a SOAP request's body in hand to its answer, by operation",
            ("operation",), buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.transaction_time = Histogram(
            "temix_db_transaction_seconds",
            "Time a database connection is held for one unit of work (one request's transaction)",
            buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.checked_out = Gauge(
            "temix_db_pool_checked_out", "Database connections in use, over the live workers",
            registry=self.registry, multiprocess_mode="livesum",
        )
        self.pool_size = Gauge(
            "temix_db_pool_size", "Database connections the workers' pools keep open, over the live workers",
            registry=self.registry, multiprocess_mode="livesum",
        )
        # (operation, code, fault) -> the counter's and the histogram's children: a few
        # dozen at most (the table's operations, the EI codes, the fault codes)
        self._children: dict[tuple, tuple] = {}
        self.database = DatabaseGauges(engine) if engine is not None else None
        if engine is not None:
            self.watch_pool(engine)
        if self.database is not None:
            self.registry.register(self.database)

    def record(self, exchange: Exchange, seconds: float) -> None:
        operation = self.operations.get(exchange.payload_tag, "unknown")
        key = (operation, exchange.code, exchange.fault)
        counted = self._children.get(key)
        if counted is None:  # labels() looks up under a lock: once per kind of outcome
            counted = self._children[key] = (
                self.requests.labels(operation, exchange.code or "", exchange.fault or ""),
                self.latency.labels(operation),
            )
        counted[0].inc()
        counted[1].observe(seconds)

    def watch_pool(self, engine: Engine) -> None:
        """The pool's gauges and each checkout's time, from the pool's own events."""
        self.pool_size.set(engine.pool.size())
        event.listen(engine, "checkout", self.checkout)
        event.listen(engine, "checkin", self.checkin)

    def checkout(self, dbapi_connection, record, proxy) -> None:
        self.checked_out.inc()
        record.info["temix_checked_out_at"] = time.perf_counter()

    def checkin(self, dbapi_connection, record) -> None:
        self.checked_out.dec()
        started = record.info.pop("temix_checked_out_at", None) if record is not None else None
        if started is not None:
            self.transaction_time.observe(time.perf_counter() - started)

    def exposition(self) -> tuple[bytes, str]:
        """The text a scrape gets, and its content type."""
        if self.folder is None:
            return generate_latest(self.registry), CONTENT_TYPE_LATEST
        _forget_dead_workers(self.folder)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=self.folder)
        if self.database is not None:
            registry.register(self.database)
        return generate_latest(registry), CONTENT_TYPE_LATEST


def _forget_dead_workers(folder: str) -> None:
    """Drop the live gauges of workers that are gone (killed, or replaced by the front)."""
    for name in os.listdir(folder):
        found = _LIVE_GAUGE_FILE.fullmatch(name)
        if found and not is_alive(int(found.group(1))):
            mark_process_dead(int(found.group(1)), folder)


class DatabaseGauges:
    """A collector: standing tenders and transactions per market context, as the database
    counts them now (cached for ``ttl`` seconds; a count that fails or takes longer than
    ``DATABASE_GAUGES_TIMEOUT_MS`` is left out of that scrape and tried at the next)."""

    def __init__(self, engine: Engine, ttl: float = DATABASE_GAUGES_TTL):
        self.engine = engine
        self.ttl = ttl
        self._counted_at = float("-inf")
        self._counts: tuple[list, list] | None = None

    def collect(self):
        counts = self._read()
        standing = GaugeMetricFamily(
            "temix_standing_tenders", "Standing tenders (not quotes) by market context", labels=["market_context"]
        )
        transactions = GaugeMetricFamily(
            "temix_transactions", "Transactions made, by market context", labels=["market_context"]
        )
        if counts is not None:
            for market_context, count in counts[0]:
                standing.add_metric([market_context], count)
            for market_context, count in counts[1]:
                transactions.add_metric([market_context], count)
        yield standing
        yield transactions

    def describe(self):
        return []  # described by collect(), when scraped; never at registration (no query then)

    def _read(self) -> tuple[list, list] | None:
        now = time.monotonic()
        if now - self._counted_at < self.ttl:
            return self._counts
        try:
            # a transaction of its own (the service's connections are in autocommit), so the
            # timeout is local to it and leaves the pooled connection as it was
            with self.engine.connect().execution_options(isolation_level="READ COMMITTED") as conn, conn.begin():
                conn.execute(text(f"SET LOCAL statement_timeout = {DATABASE_GAUGES_TIMEOUT_MS}"))
                conn.execute(text("SET LOCAL transaction_read_only = on"))
                rows = list(conn.execute(DATABASE_COUNTS))
            self._counts = (
                [(market, count) for kind, market, count in rows if kind == "standing"],
                [(market, count) for kind, market, count in rows if kind == "transactions"],
            )
        except Exception:  # noqa: BLE001 - a scrape never fails for the counts; they come next time
            self._counts = None
        self._counted_at = now
        return self._counts
