"""Engines: one per process, built at start-up (never at import), psycopg2 underneath.

After a PostgreSQL restart or failover the pooled connections are dead. They are found and
replaced without a round trip on the request path (``_replace_dead_on_checkout``), and a
connection that fails with a disconnect during a request is discarded with every older one
(``discard_if_lost``). While the database is down, connecting fails within
``CONNECT_TIMEOUT`` and the unit of work says so (``DatabaseUnavailableError``).
"""

from __future__ import annotations

import logging
import select

import psycopg2
from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.pool import PoolProxiedConnection

APPLICATION_NAME = "temix"
CONNECT_TIMEOUT = 3  # seconds; DATABASE_URL's own connect_timeout wins
# Over TCP (ignored on the Unix socket): a server that vanished without closing (a failover,
# a dead host) fails the request in about 10 s, not after the kernel's ~15 minutes of
# retransmissions; DATABASE_URL's own settings win.
TCP_SETTINGS = {"tcp_user_timeout": 10_000, "keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 3}
READY_TIMEOUT = 2  # seconds, for the readiness check

# SQLSTATEs that say the server cannot serve us now: connection exceptions (08),
# operator intervention (57P: shutdown, crash, starting up), too many connections
UNAVAILABLE_STATES = ("08", "57P", "53300")

log = logging.getLogger(__name__)


class DatabaseUnavailableError(Exception):
    """The database did not answer, or the connection to it was lost.

    ``committing``: the connection was lost while the commit was on its way, so whether the
    transaction committed is unknown (an idempotent request's retry finds out)."""

    def __init__(self, reason: str, *, committing: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.committing = committing


def to_sqlalchemy_url(url: str) -> str:
    """``url`` with the psycopg2 driver named: ``postgresql://`` and ``postgres://`` become
    ``postgresql+psycopg2://``; anything but PostgreSQL through psycopg2 is refused."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg2")
    if parsed.drivername != "postgresql+psycopg2":
        raise ValueError(
            f"unsupported database URL scheme {parsed.drivername!r}: use postgresql://"
        )
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str, *, application_name: str = APPLICATION_NAME, autocommit: bool = False) -> Engine:
    """An engine for one process.

    A gunicorn sync worker serves one request at a time inside one unit of work, so it needs
    one connection; the pool keeps two and allows two more for anything done beside a request.
    No ``pool_pre_ping``: it costs a round trip on every request (bench/README.md); a checkout
    looks at the connection's socket instead (``_replace_dead_on_checkout``).

    ``autocommit``: connections in autocommit mode from the start, for the service's units of
    work, which frame their transactions themselves (``service.store.uow``).
    """
    parsed = make_url(to_sqlalchemy_url(url))
    connect_args = {}
    if "application_name" not in parsed.query:
        connect_args["application_name"] = application_name
    for name, value in {"connect_timeout": CONNECT_TIMEOUT, **TCP_SETTINGS}.items():
        if name not in parsed.query:
            connect_args[name] = value
    engine = create_engine(
        parsed,
        pool_size=2,
        max_overflow=2,
        pool_timeout=10,
        pool_recycle=3600,
        connect_args=connect_args,
        # the units of work end their transactions themselves: nothing to reset on return
        **({"isolation_level": "AUTOCOMMIT", "pool_reset_on_return": None} if autocommit else {}),
    )
    event.listen(engine, "checkout", _replace_dead_on_checkout)
    return engine


def _replace_dead_on_checkout(dbapi_connection, record, proxy) -> None:
    """A pooled connection is idle between requests, so anything to read on its socket is
    the server ending it (a restart sends "terminating connection" and closes) and an EOF
    reads as readable too. One poll(2), no round trip. InvalidatePoolError has the pool
    discard this connection and every older one, then connect afresh. A false alarm (a
    parameter the server reports after a reload) costs a reconnect, nothing more."""
    if dbapi_connection.closed:
        raise exc.InvalidatePoolError("connection closed")
    poller = select.poll()
    poller.register(dbapi_connection.fileno(), select.POLLIN)
    if poller.poll(0):
        log.info("database connection ended by the server (restart?): reconnecting")
        raise exc.InvalidatePoolError("connection ended by the server")


def discard_if_lost(engine: Engine, pooled: PoolProxiedConnection, error: BaseException) -> bool:
    """Whether ``error`` means the database is unavailable or the connection lost. Then the
    connection is invalidated (closed, never back into the pool) and so is every pooled one
    made before it: what SQLAlchemy's own Connection does when its statements see a
    disconnect (``Pool._invalidate``: the rest are replaced at their next checkout)."""
    if isinstance(error, exc.DBAPIError):
        if error.connection_invalidated:  # seen by SQLAlchemy, which has discarded them
            return True
        error = error.orig
    if not isinstance(error, psycopg2.Error):
        return False
    dbapi = pooled.dbapi_connection
    lost = is_unavailable(error) or (
        dbapi is not None and (bool(dbapi.closed) or engine.dialect.is_disconnect(error, dbapi, None))
    )
    if lost and pooled.is_valid:
        engine.pool._invalidate(pooled, error)
    return lost


def is_unavailable(error: BaseException) -> bool:
    """A psycopg2 error that says the server cannot be reached or cannot serve now: no
    SQLSTATE (the client could not connect or lost the connection) or one of ours."""
    if isinstance(error, exc.DBAPIError):
        error = error.orig
    if isinstance(error, psycopg2.InterfaceError):
        return True
    if not isinstance(error, psycopg2.OperationalError):
        return False
    return error.pgcode is None or error.pgcode.startswith(UNAVAILABLE_STATES)


def first_line(error: BaseException) -> str:
    """The driver's message, first line (psycopg2's run over several)."""
    if isinstance(error, exc.DBAPIError):
        error = error.orig
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def database_answers(engine: Engine, timeout: int = READY_TIMEOUT) -> bool:
    """Whether the database takes a new connection and answers a query within ``timeout``
    seconds: a connection of its own, not from the pool, so a hung pooled connection cannot
    hold the check."""
    cargs, cparams = engine.dialect.create_connect_args(engine.url)
    try:
        connection = psycopg2.connect(
            *cargs, **{**cparams, "connect_timeout": timeout, "application_name": f"{APPLICATION_NAME}-ready"}
        )
    except psycopg2.Error:
        return False
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except psycopg2.Error:
        return False
    finally:
        connection.close()
