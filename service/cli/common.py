"""What every ``temix`` command shares: its error, its database, its tables."""

from __future__ import annotations

import importlib
import logging
import sys
from contextlib import contextmanager

from service.config import Settings


class CommandError(Exception):
    """A command cannot do what it was asked; the message is for the user."""


def require_extra(extra: str, *modules: str, needed_by: str) -> None:
    """Refuse, naming the install command, when a module of an optional extra is missing."""
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as error:
            raise CommandError(
                f"{needed_by} needs the {extra} extra: pip install -e '.[{extra}]' in the checkout"
                f" (scripts/serve.sh installs it) ({error})"
            ) from error


def print_table(rows: list[tuple[str, ...]]) -> None:
    """Columns padded to their widest cell, the last one unpadded."""
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1])


@contextmanager
def with_connection(settings: Settings, write: bool = False):
    """A connection to the command's database (in a transaction committed at the end if
    ``write``), and the engine disposed of afterwards."""
    engine = engine_for(open_database(settings))
    try:
        with (engine.begin() if write else engine.connect()) as conn:
            yield conn
    finally:
        engine.dispose()


def say(settings: Settings, message: str) -> None:
    """A line for the operator on standard error: ``temix: ...``, or a JSON object in the shape
    of the service's log lines when ``TEMIX_LOG_FORMAT=json`` (a log shipper reads every line)."""
    if settings.log_format == "json":
        from service.observe.logs import JsonFormatter

        record = logging.makeLogRecord({"name": "temix", "levelname": "INFO", "levelno": logging.INFO, "msg": message})
        print(JsonFormatter().format(record), file=sys.stderr)
    else:
        print(f"temix: {message}", file=sys.stderr)


def open_database(settings: Settings) -> str:
    """The SQLAlchemy URL of the database, started if embedded, migrated to head."""
    from service.store.db import to_sqlalchemy_url
    from service.store.embedded import start_embedded
    from service.store.migrate import upgrade

    say(settings, f"database: {database_used(settings)}")
    if settings.database_url is not None:
        url = to_sqlalchemy_url(settings.database_url)
    else:
        url = start_embedded(settings.data_dir)
    upgrade(url)
    return url


def database_used(settings: Settings) -> str:
    """Which database a command opens, for people (never a password): on standard error, so
    an operator sees when a command did not reach the server's database."""
    if settings.database_url is None:
        return f"embedded PostgreSQL in {settings.data_dir} (--data-dir / TEMIX_DATA_DIR)"
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(settings.database_url)
    except ArgumentError:
        return "DATABASE_URL (unreadable)"
    host = url.host or url.query.get("host") or "the local socket"
    where = f"{host}:{url.port}" if url.port else host
    return f"{url.database or '(default database)'} on {where} (DATABASE_URL)"


def engine_for(url: str):
    from service.store.db import make_engine

    return make_engine(url, application_name="temix-cli")
