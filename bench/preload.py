"""Preloading the database directly (COPY), never through the API.

Rows are what the service itself would have written: tender and transaction rows with the
C14N product bytes a request would have carried (they re-render), transactions pointing at
their tenders with the opposite side and the tender's terms, tenders' remaining quantity
reduced by what was accepted, and position_change rebuilt from the transactions with the
same rule as ``service.store.positions`` (acceptor on its side, maker opposite, +rate at
start, -rate at end, value = rate x price), so ``positions.verify`` passes.

Layout (times are all after the service's clock, so every tender is "in the future"):
- background, S tenders + S transactions among 1,000 bulk parties and the bench parties,
  one hour each, in [2030-01-01, 2031-05-31): history before the reader window;
  each tender accepted once (20 % fully, 80 % 4 of 10 kW), 10 % of them then cancelled;
- reader sets, the same at every scale, in the window [2031-06-01, 2031-06-08) at node NB:
  per bench party 50 own standing tenders, 50 addressed to it, and 100 transactions
  (50 as acceptor, 50 as maker, on tenders fully accepted so they are not standing);
- on demand: the contended tenders, and pos-0's 10^5 transactions on 2031-07-01.
"""

from __future__ import annotations

import io
import itertools
import random
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import inspect, text

from common import (
    ACCEPTOR,
    CTX,
    MAKER,
    POSITION_PARTY,
    POSITION_PARTY_DAY,
    READER_NODE,
    WINDOW_START,
    password_of,
    stored_product_template,
)

BULK_PARTIES = 1000
NODES = [f"N-{i:02d}" for i in range(50)]
HISTORY_START = datetime(2030, 1, 1, tzinfo=UTC)
HISTORY_HOURS = int((datetime(2031, 5, 31, tzinfo=UTC) - HISTORY_START).total_seconds() // 3600)

TENDER_COLUMNS = (
    "id", "party_id", "tender_id", "counterparty_id", "request_id", "side", "transactive_state",
    "product_kind", "receipt_node", "delivery_node", "market_context", "currency", "start_at",
    "end_at", "price_per_kwh", "quantity_kw", "remaining_kw", "rate_scale", "integral_only",
    "expires_at", "cancelled_at", "product_xml",
)
TRANSACTION_COLUMNS = (
    "id", "party_id", "transaction_id", "tender_pk", "counterparty_id", "request_id", "side",
    "product_kind", "receipt_node", "delivery_node", "market_context", "currency", "start_at",
    "end_at", "price_per_kwh", "quantity_kw", "rate_scale", "product_xml",
)
NULL = "\\N"
_TEMPLATE = None


def _product(side, quantity, price, start: datetime, minutes: int, node, state) -> str:
    global _TEMPLATE
    if _TEMPLATE is None:
        _TEMPLATE = stored_product_template()
    data = (
        _TEMPLATE.replace(b"@SIDE@", side.encode())
        .replace(b"@QTY@", quantity.encode())
        .replace(b"@PRICE@", price.encode())
        .replace(b"@START@", start.strftime("%Y-%m-%dT%H:%M:%SZ").encode())
        .replace(b"@DUR@", f"PT{minutes}M".encode())
        .replace(b"@NODE@", node.encode())
        .replace(b"@STATE@", state.encode())
    )
    return "\\\\x" + data.hex()


def _ts(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%d %H:%M:%S+00")


class _Lines(io.RawIOBase):
    """A file over an iterator of COPY lines, read in chunks by psycopg2."""

    def __init__(self, lines):
        self.lines, self.pending, self.done = iter(lines), b"", False

    def readable(self):
        return True

    def read(self, size=-1):
        while not self.done and (size < 0 or len(self.pending) < size):
            batch = "".join(itertools.islice(self.lines, 2000))
            if not batch:
                self.done = True
            self.pending += batch.encode()
        if size < 0:
            size = len(self.pending)
        chunk, self.pending = self.pending[:size], self.pending[size:]
        return chunk


def _copy(cursor, table: str, columns, lines) -> None:
    cursor.copy_expert(f'COPY "{table}" ({", ".join(columns)}) FROM STDIN', _Lines(lines), size=1 << 20)


class Deal:
    """One tender and the transaction that accepted (part of) it."""

    __slots__ = ("maker", "acceptor", "side", "start", "minutes", "node", "price", "offered", "taken",
                 "cancelled", "tender_id", "transaction_id", "request_id")

    def __init__(self, maker, acceptor, side, start, minutes, node, price, offered, taken, cancelled,
                 tender_id, transaction_id, request_id="preload"):
        self.maker, self.acceptor, self.side = maker, acceptor, side
        self.start, self.minutes, self.node, self.price = start, minutes, node, price
        self.offered, self.taken, self.cancelled = offered, taken, cancelled
        self.tender_id, self.transaction_id, self.request_id = tender_id, transaction_id, request_id


def _tender_line(pk, deal: Deal, cancelled_at: datetime | None) -> str:
    end = deal.start + timedelta(minutes=deal.minutes)
    return "\t".join((
        str(pk), deal.maker, deal.tender_id, deal.acceptor, deal.request_id, deal.side, "tender", "energy",
        NULL, deal.node, CTX, "USD", _ts(deal.start), _ts(end), deal.price, str(deal.offered),
        str(deal.offered - deal.taken), "k", "f", NULL, _ts(cancelled_at) if cancelled_at else NULL,
        _product(deal.side, str(deal.offered), deal.price, deal.start, deal.minutes, deal.node, "tender"),
    )) + "\n"


def _transaction_line(pk, tender_pk, deal: Deal) -> str:
    end = deal.start + timedelta(minutes=deal.minutes)
    side = "buy" if deal.side == "sell" else "sell"
    return "\t".join((
        str(pk), deal.acceptor, deal.transaction_id, str(tender_pk), deal.maker, deal.request_id, side,
        "energy", NULL, deal.node, CTX, "USD", _ts(deal.start), _ts(end), deal.price, str(deal.taken), "k",
        _product(side, str(deal.taken), deal.price, deal.start, deal.minutes, deal.node, "transaction"),
    )) + "\n"


def _next_ids(conn) -> tuple[int, int]:
    with conn.cursor() as cursor:
        cursor.execute('SELECT coalesce(max(id), 0) FROM tender')
        tender = cursor.fetchone()[0]
        cursor.execute('SELECT coalesce(max(id), 0) FROM "transaction"')
        return tender + 1, cursor.fetchone()[0] + 1


def load_deals(conn, deals, with_transaction=True) -> int:
    """COPY the deals' tenders (and transactions, if any quantity was taken); commit."""
    first_tender, first_transaction = _next_ids(conn)
    deals = list(deals)
    cancel_time = datetime(2026, 11, 25, tzinfo=UTC)
    with conn.cursor() as cursor:
        _copy(cursor, "tender", TENDER_COLUMNS,
              (_tender_line(first_tender + i, d, cancel_time if d.cancelled else None) for i, d in enumerate(deals)))
        if with_transaction:
            _copy(cursor, "transaction", TRANSACTION_COLUMNS,
                  (_transaction_line(first_transaction + i, first_tender + i, d)
                   for i, d in enumerate(deals) if d.taken > 0))
        cursor.execute("SELECT setval(pg_get_serial_sequence('tender', 'id'), (SELECT max(id) FROM tender))")
        cursor.execute("""SELECT setval(pg_get_serial_sequence('"transaction"', 'id'),
                          greatest(1, (SELECT max(id) FROM "transaction")))""")
    conn.commit()
    return len(deals)


# ------------------------------------------------------------------------- what to load


def register_parties(engine, login_parties, bulk=BULK_PARTIES) -> None:
    """Login parties through the store's own add_party (scrypt hash, sealed secret), the
    bulk parties by COPY with one shared hash (they never log in)."""
    from service.auth.passwords import hash_password
    from service.store.parties import add_party

    with engine.begin() as conn:
        for party in login_parties:
            add_party(conn, party, hash_password(password_of(party)), None, market_contexts=[CTX])
    shared = hash_password("bulk-never-logs-in")
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cursor:
            _copy(cursor, "party", ("party_id", "password_hash"),
                  (f"bulk-{i:04d}\t{shared}\n" for i in range(bulk)))
        raw.commit()
    finally:
        raw.close()


def register_market_context(engine) -> bool:
    """Register CTX where the schema has market contexts (a later migration); False if not."""
    if "market_context" not in inspect(engine).get_table_names():
        return False
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO market_context (market_context, timezone, currency) "
                          "VALUES (:c, 'UTC', 'USD') ON CONFLICT DO NOTHING"), {"c": CTX})
    return True


def background(scale: int, bench_parties, seed=1) -> "iter[Deal]":
    rng = random.Random(seed)
    parties = [f"bulk-{i:04d}" for i in range(BULK_PARTIES)] + list(bench_parties)
    prices = ("0.05", "0.08", "0.11")
    for k in range(scale):
        maker = rng.choice(parties)
        acceptor = rng.choice(parties)
        while acceptor == maker:
            acceptor = rng.choice(parties)
        roll = rng.random()
        yield Deal(
            maker, acceptor, rng.choice(("sell", "buy")),
            HISTORY_START + timedelta(hours=rng.randrange(HISTORY_HOURS)), 60, rng.choice(NODES),
            rng.choice(prices), 10, 10 if roll < 0.2 else 4, roll > 0.9, f"n{k}", f"nx{k}",
        )


def reader_sets(bench_parties) -> tuple[list[Deal], list[Deal]]:
    """(standing tenders without a transaction, fully accepted deals), per bench party 100 each."""
    standing, accepted = [], []
    for b, party in enumerate(bench_parties):
        for j in range(100):
            other = f"bulk-{(b * 100 + j) % BULK_PARTIES:04d}"
            start = WINDOW_START + timedelta(minutes=100 * j)
            maker, acceptor = (party, other) if j % 2 == 0 else (other, party)
            standing.append(Deal(maker, acceptor, "sell", start, 60, READER_NODE, "0.08", 10, 0, False,
                                 f"rs-{party}-{j}", ""))
            start = start + timedelta(minutes=30)
            maker, acceptor = (party, other) if j % 2 == 1 else (other, party)
            accepted.append(Deal(maker, acceptor, "buy", start, 60, READER_NODE, "0.08", 10, 10, False,
                                 f"ra-{party}-{j}", f"rax-{party}-{j}"))
    return standing, accepted


def position_party_deals(count=100_000, seed=5) -> "iter[Deal]":
    """pos-0 accepts ``count`` tenders on one day: minute-aligned starts from 2 h before the
    day to its end, 5 min to 4 h long, 1-20 kW, either side, three prices: heavy overlap."""
    rng = random.Random(seed)
    durations = (5, 10, 15, 30, 60, 120, 240)
    for k in range(count):
        maker = f"bulk-{rng.randrange(BULK_PARTIES):04d}"
        start = POSITION_PARTY_DAY + timedelta(minutes=rng.randrange(-120, 1440))
        quantity = rng.randint(1, 20)
        yield Deal(maker, POSITION_PARTY, rng.choice(("sell", "buy")), start, rng.choice(durations), "NP",
                   rng.choice(("0.05", "0.08", "0.11")), quantity, quantity, False, f"pt{k}", f"px{k}",
                   request_id="preload-pos")


def contended_tenders(tag: str, count: int, quantity: int) -> list[Deal]:
    start = datetime(2037, 1, 1, tzinfo=UTC)
    return [
        Deal(MAKER, ACCEPTOR, "sell", start + timedelta(hours=j), 60, "NC", "0.08", quantity, 0, False,
             f"{tag}-c{j}", "")
        for j in range(count)
    ]


_POSITION_SELECT = """
    SELECT party_id, market_context, product_kind, coalesce(receipt_node, '') AS receipt_node,
           delivery_node, at, sum(rate_kw) AS rate_kw, sum(value_rate) AS value_rate
    FROM (
        SELECT x.party_id, x.market_context, x.product_kind, x.receipt_node, x.delivery_node,
               p.at, p.sign * s.sign * x.quantity_kw AS rate_kw,
               p.sign * s.sign * x.quantity_kw * x.price_per_kwh AS value_rate
        FROM acc x
        CROSS JOIN LATERAL (VALUES (x.start_at, 1), (x.end_at, -1)) AS p(at, sign)
        CROSS JOIN LATERAL (VALUES (CASE x.side WHEN 'sell' THEN 1 ELSE -1 END)) AS s(sign)
    ) changes
    GROUP BY 1, 2, 3, 4, 5, 6
    HAVING sum(rate_kw) <> 0 OR sum(value_rate) <> 0
"""


def rebuild_positions(conn, where: str = "true") -> int:
    """Add the change points of the transactions matching ``where`` to position_change (as
    the service's ``positions.apply`` would have, one transaction at a time)."""
    sql = f"""
        WITH acc AS (
            SELECT party_id, side, market_context, product_kind, receipt_node, delivery_node,
                   start_at, end_at, quantity_kw, price_per_kwh FROM "transaction" WHERE {where}
            UNION ALL
            SELECT counterparty_id, CASE side WHEN 'sell' THEN 'buy' ELSE 'sell' END, market_context,
                   product_kind, receipt_node, delivery_node, start_at, end_at, quantity_kw, price_per_kwh
            FROM "transaction" WHERE {where}
        )
        INSERT INTO position_change (party_id, market_context, product_kind, receipt_node, delivery_node,
                                     at, rate_kw, value_rate)
        {_POSITION_SELECT}
        ON CONFLICT (party_id, market_context, product_kind, receipt_node, delivery_node, at)
        DO UPDATE SET rate_kw = position_change.rate_kw + excluded.rate_kw,
                      value_rate = position_change.value_rate + excluded.value_rate
    """
    with conn.cursor() as cursor:
        cursor.execute(sql)
        count = cursor.rowcount
    conn.commit()
    return count


def vacuum_analyze(engine) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in ("party", "tender", '"transaction"', "position_change", "distribution_recipient"):
            conn.exec_driver_sql(f"VACUUM (ANALYZE) {table}")


def preload_scale(engine, scale: int, bench_parties, log=print) -> dict:
    """Background of ``scale`` deals plus the reader sets; position_change rebuilt."""
    timings = {}
    raw = engine.raw_connection()
    try:
        started = time.perf_counter()
        load_deals(raw, background(scale, bench_parties))
        standing, accepted = reader_sets(bench_parties)
        load_deals(raw, standing, with_transaction=False)
        load_deals(raw, accepted)
        timings["copy_s"] = time.perf_counter() - started
        started = time.perf_counter()
        timings["position_rows"] = rebuild_positions(raw)
        timings["positions_s"] = time.perf_counter() - started
    finally:
        raw.close()
    started = time.perf_counter()
    vacuum_analyze(engine)
    timings["vacuum_s"] = time.perf_counter() - started
    log(f"preloaded {scale} tenders and transactions: {timings}")
    return timings


def preload_position_party(engine, count=100_000, log=print) -> dict:
    timings = {}
    raw = engine.raw_connection()
    try:
        started = time.perf_counter()
        load_deals(raw, position_party_deals(count))
        timings["copy_s"] = time.perf_counter() - started
        started = time.perf_counter()
        timings["position_rows"] = rebuild_positions(raw, "request_id = 'preload-pos'")
        timings["positions_s"] = time.perf_counter() - started
    finally:
        raw.close()
    vacuum_analyze(engine)
    log(f"preloaded {count} transactions of {POSITION_PARTY}: {timings}")
    return timings


def table_sizes(engine) -> dict:
    with engine.connect() as conn:
        rows = conn.execute(text("""
            SELECT relname, n_live_tup, pg_total_relation_size(relid) AS bytes
            FROM pg_stat_user_tables ORDER BY relname""")).all()
    return {r.relname: (r.n_live_tup, r.bytes) for r in rows}
