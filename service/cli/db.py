"""``temix db`` commands: database maintenance.

    temix db upgrade           apply the migrations (every command that opens the database does)
    temix db check-positions   recompute every position from the transactions and compare; check
                               that every exchange's position is flat, and that the balancing
                               parties' imbalance transactions mirror the others' (settlement)
    temix db backup FILE       write the database to FILE (pg_dump, custom format), also while serving
    temix db restore FILE [--force]   load FILE into an empty database (pg_restore), then migrate
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from service.cli.common import CommandError, open_database, with_connection
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
        " check every exchange is flat and every settlement conserves energy",
    )
    check.set_defaults(handler=_check_positions)
    backup = db_commands.add_parser(
        "backup", parents=[common],
        help="write the database to FILE with pg_dump (custom format; one snapshot, so it may run while"
        " serving); the server key is not in it: keep a copy of it with the backup",
    )
    backup.add_argument("file", metavar="FILE", type=Path, help="the backup to write (must not exist)")
    backup.set_defaults(handler=_backup)
    restore = db_commands.add_parser(
        "restore", parents=[common],
        help="load a backup of `temix db backup` into an empty database (a fresh data folder), then migrate it",
    )
    restore.add_argument("file", metavar="FILE", type=Path, help="the backup to load")
    restore.add_argument(
        "--force", action="store_true",
        help="replace everything the database holds (without it a database that is not empty is refused)",
    )
    restore.set_defaults(handler=_restore)


def _db_upgrade(args, settings: Settings, stdin: TextIO) -> int:
    from service.store.migrate import current_revision

    url = open_database(settings)
    print(f"database is at revision {current_revision(url)} (head)")
    return 0


def _check_positions(args, settings: Settings, stdin: TextIO) -> int:
    from service.store.positions import verify
    from service.store.settlement import verify_conservation

    with with_connection(settings) as conn:
        problems = verify(conn) + verify_conservation(conn)
    for problem in problems:
        print(problem)
    print("positions agree with the transactions" if not problems else f"{len(problems)} positions disagree")
    return 0 if not problems else 1


def _backup(args, settings: Settings, stdin: TextIO) -> int:
    from service.store import backup

    path = args.file.expanduser().absolute()
    if path.exists():
        raise CommandError(f"{path} exists: name a new file (a backup never overwrites one)")
    url = open_database(settings)
    try:
        size = backup.dump(url, path, embedded=settings.database_url is None)
    except backup.BackupError as error:
        raise CommandError(str(error)) from error
    print(f"backup of the {backup.describe(url)} written to {path} ({size} bytes)")
    print(
        f"the server key is not in it: keep a copy of {settings.secret_key_file} with the backup"
        " (parties using PasswordDigest need it after a restore)"
    )
    return 0


def _restore(args, settings: Settings, stdin: TextIO) -> int:
    from service.store import backup
    from service.store.db import to_sqlalchemy_url
    from service.store.embedded import start_embedded
    from service.store.migrate import upgrade

    embedded = settings.database_url is None
    path = args.file.expanduser().absolute()
    try:
        backup.check_archive(path, embedded=embedded)
        # not open_database: migrating first would make the database not empty
        url = start_embedded(settings.data_dir) if embedded else to_sqlalchemy_url(settings.database_url)
        backup.prepare_target(url, force=args.force)
        backup.restore(url, path, embedded=embedded)
    except backup.BackupError as error:
        raise CommandError(str(error)) from error
    upgrade(url)  # a backup of an older version is brought to this one's schema
    with with_connection(settings) as conn:
        counts = conn.exec_driver_sql(
            'SELECT (SELECT count(*) FROM party), (SELECT count(*) FROM tender), (SELECT count(*) FROM "transaction"),'
            " (SELECT digest_secret FROM party WHERE digest_secret IS NOT NULL LIMIT 1)"
        ).one()
    parties, tenders, transactions, sealed = counts
    print(f"restored {path} into the {backup.describe(url)}: {parties} parties, {tenders} tenders, {transactions} transactions")
    problem = _key_problem(settings.secret_key_file, sealed)
    if problem:
        print(f"temix: warning: {problem}", file=sys.stderr)
    return 0


def _key_problem(key_file: Path, sealed: bytes | None) -> str | None:
    """Why the server key would not open the restored PasswordDigest secrets, if it would not."""
    from service.auth.passwords import load_or_create_key, open_secret

    if sealed is None:
        return None
    advice = (
        "parties using PasswordDigest cannot authenticate until the key of the backed-up server is copied"
        f" there (mode 0600), before serving"
    )
    if not key_file.exists():
        return f"there is no server key at {key_file}: {advice}"
    try:
        open_secret(load_or_create_key(key_file), bytes(sealed))
    except (ValueError, PermissionError) as error:
        return f"the server key at {key_file} does not open the restored secrets ({error}): {advice}"
    return None
