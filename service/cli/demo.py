"""``temix demo``: the REP dynamic-pricing scenario of service/demo/ against a running server.

    temix demo [--url URL] [--out DIR] [--day YYYY-MM-DD]
               (--registrar ID [--registrar-password-stdin] [--market-context URI] | [--data-dir DIR])

Its zeep clients, health check and plots come with the ``demo`` extra.
"""

from __future__ import annotations

import argparse
import os

from service import demo
from service.cli.common import CommandError, require_extra
from service.config import Settings

DEMO_MODULES = ("zeep", "requests", "matplotlib")


def add_commands(commands, common: argparse.ArgumentParser) -> None:
    demo_parser = commands.add_parser(
        "demo", parents=[common],
        help="run the REP dynamic-pricing scenario against a running server (with a registrar's credentials,"
        " or the server's --data-dir / DATABASE_URL)",
    )
    demo.add_arguments(demo_parser)
    demo_parser.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace, settings: Settings, stdin=None) -> int:
    """The parties are registered by ``--registrar`` over SOAP, or else go into the database of
    ``settings`` (--data-dir, DATABASE_URL)."""
    require_extra("demo", *DEMO_MODULES, needed_by="the demo")
    try:
        registrar = demo.registrar_of(args, stdin, os.environ)
        result = demo.main(args.url, out_dir=args.out, data_dir=settings.data_dir, day=args.day,
                           registrar=registrar, market_context=args.market_context)
    except demo.DemoError as error:
        raise CommandError(str(error)) from error
    return 1 if result.options.startswith("failed") else 0
