"""EXPLAIN (ANALYZE, BUFFERS) of the service's own queries, as its store functions build them.

The store functions are called with a connection proxy that, before each statement runs,
runs it once more under EXPLAIN (ANALYZE, BUFFERS) with the same parameters and keeps the
plan; the write path's raw statements go through ``ExplainingUnit`` instead. Everything
happens in one transaction that is rolled back, so the writes explained (request log, tender
insert, take, position upsert) leave nothing behind.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from common import (
    POSITION_DAY,
    POSITION_PARTY,
    POSITION_PARTY_DAY,
    WINDOW_END,
    WINDOW_START,
    bench_party,
)


class ExplainingConnection:
    def __init__(self, conn, report: list):
        self.conn = conn
        self.report = report
        self.label = ""
        self.seen: dict[str, int] = {}

    def __getattr__(self, name):
        return getattr(self.conn, name)

    def next_label(self) -> str:
        label = self.label
        self.seen[label] = self.seen.get(label, 0) + 1
        return label if self.seen[label] == 1 else f"{label} (statement {self.seen[label]})"

    def execute(self, statement, *args, **kwargs):
        label = self.next_label()
        given = None
        if args and isinstance(args[0], dict):
            given = args[0]
        elif args and isinstance(args[0], list) and args[0]:  # executemany: explain the first row
            given = args[0][0]
        compiled = statement.compile(dialect=self.conn.dialect, column_keys=list(given) if given else None,
                                     compile_kwargs={"render_postcompile": True})
        params = compiled.construct_params(given)
        plan = self.conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS, SETTINGS) " + compiled.string, params).scalars().all()
        shown = {k: (f"<{len(v)} bytes>" if isinstance(v, (bytes, bytearray, memoryview)) else v) for k, v in params.items()}
        self.report.append((label, compiled.string, shown, plan))
        return self.conn.execute(statement, *args, **kwargs)


class ExplainingUnit:
    """The unit-of-work face of the proxy, for the write path's own SQL: each statement is
    run under EXPLAIN (ANALYZE, BUFFERS), which executes it, in the proxy's transaction."""

    def __init__(self, connection: ExplainingConnection):
        self.connection = connection
        self.cursor = connection.conn.connection.dbapi_connection.cursor()

    def sql(self, name, template, params) -> bytes:
        return self.cursor.mogrify(template, params)  # plain statements: no PREPARE here

    def insert_sql(self, name, table, rows, suffix=""):
        from service.store.uow import UnitOfWork

        return UnitOfWork.insert_sql(self, name, table, rows, suffix)  # the service's own rendering

    def queue(self, statement: bytes, refusals=None) -> None:
        self._explain(statement)

    def fetch(self, statement: bytes) -> list[tuple]:
        self._explain(statement)
        self.cursor.execute(statement)
        return self.cursor.fetchall()

    def _explain(self, statement: bytes) -> None:
        if statement.startswith(b"SET LOCAL "):  # the list reads' plan_cache_mode: set it, explain the rest
            setting, _, statement = statement.partition(b";\n")
            self.cursor.execute(setting)
        self.cursor.execute(b"EXPLAIN (ANALYZE, BUFFERS, SETTINGS) " + statement)
        plan = [row[0] for row in self.cursor.fetchall()]
        text = re.sub(r"'\\x[0-9a-f]{40,}'", "'<bytes>'", statement.decode())
        self.connection.report.append((self.connection.next_label(), text, {}, plan))


def _sequential_scans(plan_lines) -> list[str]:
    return [line.strip() for line in plan_lines if re.search(r"Seq Scan|Parallel Seq Scan", line)]


def explain_all(engine, include_position_party: bool, only_position_party: bool = False) -> tuple[str, list[dict]]:
    """The plans as text, and a summary per query (label, execution ms, seq scans)."""
    from service.domain.intervals import Interval
    from service.domain.tenders import Interface, Side, Terms
    from service.domain.commands import Narrowing as TenderFilter
    from service.domain.commands import Narrowing as TransactionFilter
    from service.domain.positions import changes_for_transaction
    from service.store.parties import get_party_credentials
    from service.store.positions import PositionRepository
    from service.store.requests import RequestLog
    from service.store.tenders import TenderRepository
    from service.store.transactions import TransactionRepository

    # the repositories of this tree, on a unit that explains each statement
    positions = type("positions", (), {"read_window": lambda c, *a: PositionRepository(c).read_window(*a)})
    tenders = type("tenders", (), {
        "standing_visible_to": lambda c, *a: TenderRepository(c).standing_visible_to(*a),
        "lock": lambda c, *a: TenderRepository(c).lock(*a),
        "take": lambda c, *a: TenderRepository(c).take(*a),
    })
    transactions = type("transactions", (), {"involving": lambda c, *a: TransactionRepository(c).involving(*a)})
    reader = ExplainingUnit

    report: list = []
    now = datetime.now(UTC)
    party = bench_party(0)
    window = (Interval(WINDOW_START, WINDOW_END),)
    def steps():
        """(label, call) for every query explained; a call may be missing in another tree."""
        if only_position_party:
            yield (f"EiRequestPosition: read_window, {POSITION_PARTY} (10^5 transactions), one day",
                   lambda c: positions.read_window(ExplainingUnit(c), POSITION_PARTY, Interval(
                       POSITION_PARTY_DAY, POSITION_PARTY_DAY + timedelta(days=1))))
            return
        yield "auth: get_party_credentials", lambda c: get_party_credentials(c, party)
        yield ("idempotency, refusals: requests.record (INSERT .. ON CONFLICT DO NOTHING)",
               lambda c: RequestLog(ExplainingUnit(c)).record(party, "explain-r1", "EiCreateTender", b"<request/>" * 100, b"<reply/>" * 100))
        yield ("EiRequestTender: standing_visible_to, interval filter (100 items)",
               lambda c: tenders.standing_visible_to(reader(c), party, now, TenderFilter(intervals=window), 1001))
        yield ("EiRequestTender: standing_visible_to, no filter (limit 1001)",
               lambda c: tenders.standing_visible_to(reader(c), party, now, TenderFilter(), 1001))
        yield ("EiRequestTransaction: involving, interval filter (100 items)",
               lambda c: transactions.involving(reader(c), party, TransactionFilter(intervals=window), 1001))
        yield ("EiRequestTransaction: involving, no filter (limit 1001)",
               lambda c: transactions.involving(reader(c), party, TransactionFilter(), 1001))
        yield ("EiCreateTransaction/EiCancelTender: tenders.lock (SELECT .. FOR UPDATE)",
               lambda c: found.__setitem__("stored", tenders.lock(ExplainingUnit(c), party, [f"rs-{party}-0"])[f"rs-{party}-0"]))
        yield ("EiCreateTransaction: tenders.take (UPDATE)",
               lambda c: tenders.take(ExplainingUnit(c), found["stored"].pk, 1))
        yield ("EiCancelTender: addressed_to (only when the tender is not the caller's)",
               lambda c: tenders.addressed_to(ExplainingUnit(c), party, "no-such-tender"))
        common = dict(
            side="sell", product_kind="energy", receipt_node=None, delivery_node="NX", market_context="ctx",
            currency="USD", start_at=datetime(2038, 1, 1, tzinfo=UTC), end_at=datetime(2038, 1, 1, 1, tzinfo=UTC),
            price_per_kwh=0.08, rate_scale="k", product_xml=b"<x/>" * 300,
            option_type=None, holder_side=None, strike_per_kwh=None,
        )
        tender_row = dict(common, party_id=party, tender_id="explain-t1", counterparty_id=bench_party(1),
                          request_id="explain-r1", transactive_state="tender", quantity_kw=10, remaining_kw=10,
                          integral_only=False, expires_at=None)
        yield ("EiCreateTender: queue_tenders (INSERT)",
               lambda c: tenders.queue_tenders(ExplainingUnit(c), party, [tender_row]))
        transaction_row = dict(common, party_id=bench_party(1), transaction_id="explain-x1", side="buy",
                               counterparty_id=party, request_id="explain-r1", quantity_kw=1)
        yield ("EiCreateTransaction: queue_transactions (INSERT)", lambda c: transactions.queue_transactions(
            ExplainingUnit(c), bench_party(1), [dict(transaction_row, tender_pk=found["stored"].pk)]))

        def apply(c):
            terms = Terms(Side.BUY, Interface("NX"), "ctx",
                          Interval(datetime(2038, 1, 1, tzinfo=UTC), datetime(2038, 1, 1, 1, tzinfo=UTC)),
                          found["stored"].tender.terms.price_per_kwh, found["stored"].tender.terms.quantity_kw)
            PositionRepository(ExplainingUnit(c)).apply(changes_for_transaction(bench_party(1), party, terms))

        yield "EiCreateTransaction: positions.apply (INSERT .. ON CONFLICT DO UPDATE)", apply
        yield ("idempotency: requests.queue_answer (INSERT, with the commit)", lambda c: RequestLog(
            ExplainingUnit(c)).queue_answer(party, "explain-r2", "EiCreateTender", b"<request/>" * 100, b"<reply/>" * 100))
        yield ("EiRequestPosition: read_window, bench party, one day",
               lambda c: positions.read_window(ExplainingUnit(c), party, Interval(POSITION_DAY, POSITION_DAY + timedelta(days=1))))

    found: dict = {}
    with engine.connect() as raw:
        transaction = raw.begin()
        conn = ExplainingConnection(raw, report)
        try:
            for label, call in steps():
                conn.label = label
                savepoint = raw.begin_nested()
                try:
                    call(conn)
                    savepoint.commit()
                except Exception as error:  # noqa: BLE001 - a tree without this call: say so, go on
                    savepoint.rollback()
                    report.append((label, "", {}, [f"not explained: {type(error).__name__}: {error}"[:300]]))
        finally:
            transaction.rollback()
    return _render(report)


def _render(report) -> tuple[str, list[dict]]:
    lines, summary = [], []
    for label, sql, params, plan in report:
        lines += [f"-- {label}", sql.strip(), f"-- parameters: {params}", *plan, ""]
        executed = next((float(m.group(1)) for p in plan if (m := re.search(r"Execution Time: ([\d.]+) ms", p))), None)
        summary.append(dict(label=label, ms=executed, seq_scans=_sequential_scans(plan),
                            top=plan[0].strip() if plan else ""))
    return "\n".join(lines), summary
