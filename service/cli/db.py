"""``temix db`` commands: database maintenance.

    temix db upgrade           apply the migrations (every command that opens the database does)
    temix db check-positions   recompute every position from the transactions and compare; check
                               that every exchange's position is flat
"""

from __future__ import annotations

import argparse
from typing import TextIO

from service.cli.common import open_database, with_connection
from service.config import Settings


def add_commands(commands, common: argparse.ArgumentParser) -> None:
    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="COMMAND")
    upgrade = db_commands.add_parser(
        "upgrade", parents=[common], help="apply the migrations (does nothing if up to date)"
    )
    upgrade.set_defaults(handler=_db_upgrade)
    check = db_commands.add_parser(
        "check-positions", parents=[common],
        help="recompute every position from the transactions and compare with the stored ones;"
        " check every exchange is flat",
    )
    check.set_defaults(handler=_check_positions)


def _db_upgrade(args, settings: Settings, stdin: TextIO) -> int:
    from service.store.migrate import current_revision

    url = open_database(settings)
    print(f"database is at revision {current_revision(url)} (head)")
    return 0


def _check_positions(args, settings: Settings, stdin: TextIO) -> int:
    from service.store.positions import verify

    with with_connection(settings) as conn:
        problems = verify(conn)
    for problem in problems:
        print(problem)
    print("positions agree with the transactions" if not problems else f"{len(problems)} positions disagree")
    return 0 if not problems else 1
