"""Engines: one per process, built at start-up (never at import), psycopg2 underneath."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url

APPLICATION_NAME = "temix"


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
    No ``pool_pre_ping``: it costs a round trip on every request (~0.25 ms here). A connection
    the server closed (restart) fails the one request that finds it, with a Server fault and
    nothing applied; SQLAlchemy then discards the pool, and the client's retry, safe because
    requests are idempotent on requestID, gets a fresh connection.

    ``autocommit``: connections in autocommit mode from the start, for the service's units of
    work, which frame their transactions themselves (``service.store.uow``).
    """
    parsed = make_url(to_sqlalchemy_url(url))
    connect_args = {}
    if "application_name" not in parsed.query:
        connect_args["application_name"] = application_name
    return create_engine(
        parsed,
        pool_size=2,
        max_overflow=2,
        pool_timeout=10,
        pool_recycle=3600,
        connect_args=connect_args,
        # the units of work end their transactions themselves: nothing to reset on return
        **({"isolation_level": "AUTOCOMMIT", "pool_reset_on_return": None} if autocommit else {}),
    )
