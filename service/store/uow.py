"""The unit of work: one request = one database transaction, in as few round trips as we can.

``with UnitOfWork(engine) as uow: ... uow.commit()``; leaving the block any other way rolls
back, so a fault or a crash writes nothing.

The connection runs in autocommit mode and the transaction is framed here, because each
round trip costs more than the statements of a small request (see bench/). BEGIN
travels with the first statement that needs an answer (``fetch``), writes whose result is
not needed are queued (``queue``) and sent with COMMIT as one message. A request that only
writes (EiCreateTender) sends one message and no BEGIN: PostgreSQL runs the statements of
one simple-query message as one transaction. In both cases an error stops the message and
nothing of it stays. Statements are prepared once per connection and their parameters quoted
in by psycopg2 (``sql``).

A database that cannot be reached, or a connection lost on the way (a restart, a failover),
leaves the block as ``DatabaseUnavailableError``; the lost connection is not pooled again.

The request's audit events (``uow.audit``) are one more queued INSERT, sent with COMMIT.

``uow.conn`` is the SQLAlchemy connection for Core statements: asking for it begins the
transaction (and sends the queued writes), so Core and queued statements share it.
"""

from __future__ import annotations

import io
import re
import zlib
from collections.abc import Callable, Mapping
from contextlib import suppress
from operator import itemgetter
from datetime import datetime

import psycopg2
from psycopg2.extensions import TRANSACTION_STATUS_IDLE
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from service.store.audit import AuditTrail
from service.store.book import BookRepository
from service.store.credentials import PartyRepository
from service.store.db import DatabaseUnavailableError, discard_if_lost, first_line, is_unavailable
from service.store.deliveries import DeliveryRepository
from service.store.markets import MarketContextRepository
from service.store.outbox import OutboxRepository
from service.store.positions import PositionRepository
from service.store.quotes import QuoteRepository
from service.store.registrations import RegistrationRepository
from service.store.requests import RequestLog
from service.store.settlement import SettlementRepository
from service.store.statements import StatementRepository
from service.store.tenders import TenderRepository
from service.store.transactions import TransactionRepository

# constraint name -> the error a violation of it means (e.g. a duplicate tenderID)
Refusals = Mapping[str, Callable[[], Exception]]


class UnitOfWork:
    """One request's transaction, and the repositories that read and write through it."""

    def __init__(self, engine: Engine):
        self._engine = engine
        self.tenders = TenderRepository(self)
        self.transactions = TransactionRepository(self)
        self.positions = PositionRepository(self)
        self.requests = RequestLog(self)
        self.parties = PartyRepository(self)
        self.quotes = QuoteRepository(self)
        self.market_contexts = MarketContextRepository(self)
        self.audit = AuditTrail(self)
        self.registrations = RegistrationRepository(self)
        self.book = BookRepository(self)
        self.outbox = OutboxRepository(self)
        self.deliveries = DeliveryRepository(self)
        self.settlements = SettlementRepository(self)
        self.statements = StatementRepository(self)

    def __enter__(self) -> UnitOfWork:
        try:
            self._pooled = self._engine.raw_connection()  # a SQLAlchemy Connection only if asked for
        except (psycopg2.Error, DBAPIError) as error:
            if not is_unavailable(error):
                raise
            raise DatabaseUnavailableError(first_line(error)) from error
        dbapi = self._pooled.dbapi_connection
        self._autocommit_set = not dbapi.autocommit  # the service's engine is autocommit already
        if self._autocommit_set:
            dbapi.autocommit = True
        self._cursor = dbapi.cursor()
        self._conn: Connection | None = None
        # names of the statements prepared on this connection (kept while it lives in the pool)
        self._prepared: set[str] = self._pooled.info.setdefault("temix_prepared", set())
        self._preparing: list[str] = []  # PREPAREd by statements not sent yet
        self._failed_preparing = False
        self._begun = False
        self._committing = False  # the last message sent carried the COMMIT
        self._queued: list[bytes] = []
        self._refusals: dict[str, Callable[[], Exception]] = {}
        return self

    def __exit__(self, exc_type, error, traceback) -> None:
        # A lost connection is discarded, never returned to the pool (``discard_if_lost``)
        lost = error is not None and discard_if_lost(self._engine, self._pooled, error)
        try:
            if not lost:
                self._end_transaction()
        except psycopg2.Error as cleanup_error:
            if not discard_if_lost(self._engine, self._pooled, cleanup_error):
                raise
            # lost after the work was done or refused: the first outcome stands
        finally:
            with suppress(psycopg2.Error):
                self._cursor.close()
            (self._conn or self._pooled).close()  # back to the pool, unless invalidated
        if lost:
            raise DatabaseUnavailableError(first_line(error), committing=self._committing) from error

    def _end_transaction(self) -> None:
        if self._cursor.connection.info.transaction_status != TRANSACTION_STATUS_IDLE:
            self._cursor.execute("ROLLBACK")
        if self._failed_preparing:  # which PREPAREs of a failed message ran is unknown
            self._cursor.execute("DEALLOCATE ALL")
            self._prepared.clear()
        if self._autocommit_set:
            self._pooled.dbapi_connection.autocommit = False

    def sql(self, name: str, template: str, params: tuple | list) -> bytes:
        """EXECUTE of ``template`` (with %s parameters) prepared as ``name`` on this
        connection: PREPARE travels with its first use, later requests skip the planning.
        Parameters are quoted in by psycopg2, client side."""
        statement = self._cursor.mogrify(f"EXECUTE {name} ({', '.join(['%s'] * len(params))})", params)
        if name in self._prepared or name in self._preparing:
            return statement
        numbered = iter(range(1, len(params) + 1))
        self._preparing.append(name)
        return f"PREPARE {name} AS {re.sub('%s', lambda _: f'${next(numbered)}', template)};\n".encode() + statement

    def insert_sql(self, name: str, table: str, rows: list[dict], suffix: str = "") -> bytes:
        """One multi-row INSERT of ``rows`` (dicts with the same keys: our column names)."""
        columns = list(rows[0])
        row = "(" + ", ".join(["%s"] * len(columns)) + ")"
        template = f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([row] * len(rows))}{suffix}"
        shape = f"{len(rows)}_{zlib.crc32(template.encode()):08x}"  # one prepared statement per shape
        return self.sql(f"{name}_{shape}", template, [r[c] for r in rows for c in columns])

    def copy(self, table: str, rows: list[dict]) -> None:
        """COPY ``rows`` (dicts with the same keys: our column names) into ``table`` now,
        inside the transaction, after the queued writes: thousands of rows as one stream, with
        no statement to quote in, parse and plan (a settlement run's)."""
        if not rows:
            return
        if not self._begun or self._queued:
            self._send(None, begin=True)
        columns = list(rows[0])
        values = itemgetter(*columns) if len(columns) > 1 else lambda row: (row[columns[0]],)
        lines = io.StringIO("".join(["\t".join(map(_copy_text, values(r))) + "\n" for r in rows]))
        self._cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", lines)

    def queue(self, statement: bytes, refusals: Refusals | None = None) -> None:
        """A write sent later, with the next fetch or with COMMIT. A violation of one of the
        ``refusals`` constraints raises the error it names then."""
        self._queued.append(statement)
        self._refusals.update(refusals or {})

    def fetch(self, statement: bytes) -> list[tuple]:
        """The rows of a query run inside the transaction, after the queued writes."""
        self._send(statement, begin=True)
        return self._cursor.fetchall()

    @property
    def conn(self) -> Connection:
        """The SQLAlchemy connection, inside this unit's transaction."""
        if not self._begun or self._queued:
            self._send(None, begin=True)
        if self._conn is None:
            self._conn = Connection(self._engine, connection=self._pooled)
        return self._conn

    def flush(self) -> None:
        """Send the queued writes now, inside the transaction: a unit of work that writes
        thousands of rows (a settlement run) sends them in pieces, not as one huge message."""
        if self._queued:
            self._send(None, begin=True)

    def commit(self) -> None:
        audited = self.audit.pending()  # the request's audit events travel with its COMMIT
        if audited is not None:
            self._queued.append(audited)
        if self._begun:
            self._send(b"COMMIT", begin=False)
        elif self._queued:
            self._send(None, begin=False)  # one message: one implicit transaction

    def _send(self, statement: bytes | None, *, begin: bool) -> None:
        parts = [b"BEGIN"] if begin and not self._begun else []
        parts += self._queued
        if statement is not None:
            parts.append(statement)
        preparing, self._queued, self._preparing = self._preparing, [], []
        self._begun = self._begun or begin
        self._committing = not begin
        try:
            self._cursor.execute(b";\n".join(parts))
        except psycopg2.Error as error:
            self._failed_preparing = bool(preparing)
            refusal = self._refusals.get(getattr(error.diag, "constraint_name", None))
            if refusal is None or not isinstance(error, psycopg2.IntegrityError):
                raise
            raise refusal() from error
        self._prepared.update(preparing)


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value) -> str:
    """A value in COPY's text format, as psycopg2 would have quoted it into a statement (the
    common types first: a run formats millions)."""
    kind = type(value)
    if kind is str:  # escaped only if it must be: translate is slow
        return value if value.isprintable() and "\\" not in value else value.translate(_COPY_ESCAPES)
    if value is None:
        return "\\N"
    if kind is datetime:
        return value.isoformat()
    if kind is bytes:
        return "\\\\x" + value.hex()  # bytea's hex form, its backslash escaped
    if kind is bool:
        return "t" if value else "f"
    if isinstance(value, str):  # a str subclass (an enum's value): its text
        return str.translate(value, _COPY_ESCAPES)
    return str(value)  # numbers: Decimal and int as psycopg2 writes them
