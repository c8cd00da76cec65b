"""The ``temix`` command, run as a process against a real PostgreSQL."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text

from service.auth.passwords import open_secret, verify_password
from service.store.db import make_engine
from service.store.migrate import head_revision
from service.store.tables import party

HERE = Path(__file__).resolve().parent


def test_party_add_reads_the_password_from_stdin_and_party_list_shows_it(
    temix, fresh_database_url
):
    env = {"DATABASE_URL": fresh_database_url}
    added = temix(
        "party", "add", "alice", "--password-stdin",
        "--market-context", "http://market.example/ctx-1",
        "--market-context", "http://market.example/ctx-2",
        "--group", "retail",
        stdin="s3cret pass\n", env=env,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "added party alice" in added.stdout
    text_only = temix("party", "add", "bob", "--password-stdin", "--text-only", stdin="pw", env=env)
    assert text_only.returncode == 0, text_only.stderr

    listed = temix("party", "list", env=env)

    assert listed.returncode == 0, listed.stderr
    lines = [line.split() for line in listed.stdout.splitlines()]
    assert lines == [
        ["PARTY", "MARKET", "CONTEXTS", "GROUPS", "SERVICE", "AREAS", "ROLES", "DIGEST"],
        ["alice", "http://market.example/ctx-1,http://market.example/ctx-2", "retail", "-", "-", "yes"],
        ["bob", "-", "-", "-", "-", "no"],
    ]


def test_party_add_stores_a_scrypt_hash_and_a_secret_sealed_under_the_key_file(
    temix, fresh_database_url, tmp_path
):
    result = temix(
        "party", "add", "alice", "--password-stdin", stdin="s3cret pass\n",
        env={"DATABASE_URL": fresh_database_url},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr

    key_file = tmp_path / "data" / "secret.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    row = _party_row(fresh_database_url, "alice")
    assert row.password_hash.startswith("scrypt$16384$8$1$")
    assert "s3cret" not in row.password_hash
    assert verify_password("s3cret pass", row.password_hash)  # one trailing newline removed
    assert open_secret(key_file.read_bytes(), row.digest_secret) == "s3cret pass"


def test_party_add_refuses_a_duplicate_and_keeps_the_first_password(temix, fresh_database_url):
    env = {"DATABASE_URL": fresh_database_url}
    assert temix("party", "add", "alice", "--password-stdin", stdin="first", env=env).returncode == 0

    again = temix("party", "add", "alice", "--password-stdin", stdin="second", env=env)

    assert again.returncode == 1
    assert "party 'alice' already exists" in again.stderr
    assert verify_password("first", _party_row(fresh_database_url, "alice").password_hash)


def test_party_add_refuses_an_empty_password_and_writes_nothing(temix, fresh_database_url):
    env = {"DATABASE_URL": fresh_database_url}

    empty = temix("party", "add", "alice", "--password-stdin", stdin="\n", env=env)

    assert empty.returncode == 1
    assert "password read from standard input is empty" in empty.stderr
    assert temix("party", "list", env=env).stdout.splitlines()[1:] == []


def test_party_add_without_password_stdin_is_a_usage_error(temix, fresh_database_url):
    result = temix("party", "add", "alice", env={"DATABASE_URL": fresh_database_url})

    assert result.returncode == 2
    assert "--password-stdin" in result.stderr


def test_db_upgrade_migrates_to_head_and_a_second_run_changes_nothing(temix, fresh_database_url):
    env = {"DATABASE_URL": fresh_database_url}

    first = temix("db", "upgrade", env=env)
    tables_after_first = _table_names(fresh_database_url)
    second = temix("db", "upgrade", env=env)

    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert first.stdout == second.stdout == f"database is at revision {head_revision()} (head)\n"
    assert _table_names(fresh_database_url) == tables_after_first
    assert {"party", "tender", "transaction", "alembic_version"} <= tables_after_first


def test_a_bad_setting_is_a_usage_error_naming_the_variable(temix):
    result = temix("party", "list", env={"TEMIX_PORT": "eighty"})

    assert result.returncode == 2
    assert "TEMIX_PORT must be an integer" in result.stderr


def test_db_upgrade_without_database_url_starts_and_stops_an_embedded_server(
    temix, embedded_data_dir
):
    data_dir = embedded_data_dir

    started = time.monotonic()
    result = temix("db", "upgrade", "--data-dir", str(data_dir))
    elapsed = time.monotonic() - started

    assert result.returncode == 0, result.stderr
    assert (data_dir / "pg" / "PG_VERSION").exists()
    assert not (data_dir / "pg" / "postmaster.pid").exists(), "server left running"
    print(f"temix db upgrade with a new embedded server: {elapsed:.2f} s")


def test_a_second_temix_reuses_a_running_embedded_server_and_leaves_it_running(
    temix, postgres_server
):
    if postgres_server.data_dir is None:
        pytest.skip("TEST_DATABASE_URL is set: no embedded server in this run")
    pid_file = postgres_server.data_dir / "pg" / "postmaster.pid"
    server_pid = pid_file.read_text().split()[0]

    listed = temix("party", "list", "--data-dir", str(postgres_server.data_dir))

    assert listed.returncode == 0, listed.stderr
    assert pid_file.read_text().split()[0] == server_pid
    with _connect(postgres_server.admin_url) as conn:
        assert conn.execute(text("select 1")).scalar() == 1


def hello_app(settings):
    """A stand-in WSGI app for the serving tests: it answers with the database each worker
    reached through the URL that `temix serve` resolved and passed in its Settings."""
    engine = make_engine(settings.database_url)

    def app(environ, start_response):
        with engine.connect() as conn:
            database = conn.execute(text("select current_database()")).scalar()
        body = f"{environ['PATH_INFO']} {database} {os.getpid()}".encode()
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]

    return app


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_serve_uses_the_embedded_server_and_stops_it_on_a_signal(
    temix, temix_env, embedded_data_dir, stop_signal
):
    data_dir = embedded_data_dir
    port = _free_port()
    server = _start_serving(temix_env, data_dir, port)
    lines = _lines_of(server)
    try:
        ready = _wait_for_line(lines, "temix serving", timeout=60)
        assert f"http://127.0.0.1:{port}/EiTender (WSDL http://127.0.0.1:{port}/EiTender?wsdl)" in ready
        assert f"http://127.0.0.1:{port}/EiTransaction?wsdl" in ready
        answer = _get(f"http://127.0.0.1:{port}/EiTender")
        assert answer.split()[:2] == ["/EiTender", "temix"]

        # a second command while serving shares the server and does not stop it
        listed = temix("party", "list", "--data-dir", str(data_dir))
        assert listed.returncode == 0, listed.stderr
        assert _get(f"http://127.0.0.1:{port}/again").split()[:2] == ["/again", "temix"]

        server.send_signal(stop_signal)
        server.wait(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    output = "".join(_drain(lines))
    assert server.returncode == 0, output
    assert not _unexpected_tracebacks(output), output
    assert not (data_dir / "pg" / "postmaster.pid").exists(), "embedded server left running"


def _unexpected_tracebacks(output: str) -> list[str]:
    """Tracebacks in a server's output, except gunicorn's own for a worker told to quit while
    a connection was still open (it ends in ``SystemExit: 0``): the signal races the test's
    last request, and that one is gunicorn reporting its shutdown, not a fault of ours."""
    found = []
    for block in output.split("Traceback (most recent call last):")[1:]:
        last = next((line for line in block.splitlines() if line and not line.startswith(" ")), "")
        if last.strip() != "SystemExit: 0":
            found.append(block)
    return found


def test_a_server_left_by_a_killed_serve_is_stopped_by_the_next_command(
    temix, temix_env, embedded_data_dir
):
    data_dir = embedded_data_dir
    server = _start_serving(temix_env, data_dir, _free_port())
    lines = _lines_of(server)
    try:
        _wait_for_line(lines, "temix serving", timeout=60)
        server.kill()  # SIGKILL: no atexit, no cleanup; its handle stays in pg/.handle_pids.json
        server.wait(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    # The orphaned gunicorn workers hold the pipe until they notice their master is gone,
    # which a sync worker checks every timeout / 2 = 15 s at the latest.
    _drain(lines, timeout=45)
    assert (data_dir / "pg" / "postmaster.pid").exists()

    upgraded = temix("db", "upgrade", "--data-dir", str(data_dir))

    assert upgraded.returncode == 0, upgraded.stderr
    assert not (data_dir / "pg" / "postmaster.pid").exists(), "server still running"


def test_serve_refuses_an_application_that_cannot_be_imported(temix):
    result = temix("serve", "--app", "no_such_module:create_app", "--port", str(_free_port()))

    assert result.returncode == 1
    assert "cannot load the application no_such_module:create_app" in result.stderr


def _start_serving(temix_env: dict[str, str], data_dir: Path, port: int) -> subprocess.Popen:
    """`temix serve` with the stand-in app above, output (both streams) on a pipe."""
    env = {**temix_env, "PYTHONPATH": os.pathsep.join([temix_env["PYTHONPATH"], str(HERE)])}
    return subprocess.Popen(
        [sys.executable, "-m", "service.cli", "serve", "--data-dir", str(data_dir),
         "--port", str(port), "--workers", "2", "--app", "test_cli:hello_app"],
        cwd=data_dir.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def _party_row(url: str, party_id: str):
    with _connect(url) as conn:
        return conn.execute(select(party).where(party.c.party_id == party_id)).one()


def _table_names(url: str) -> set[str]:
    with _connect(url) as conn:
        return set(inspect(conn).get_table_names())


class _connect:
    def __init__(self, url: str):
        self.engine = make_engine(url, application_name="temix-tests")

    def __enter__(self):
        self.conn = self.engine.connect()
        return self.conn

    def __exit__(self, *exc):
        self.conn.close()
        self.engine.dispose()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _lines_of(process: subprocess.Popen) -> queue.Queue:
    """The process's output lines, read by a thread so that waiting can time out."""
    lines: queue.Queue = queue.Queue()

    def read() -> None:
        with process.stdout:
            for line in process.stdout:
                lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    return lines


def _wait_for_line(lines: queue.Queue, needle: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    seen = []
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        if line is None:
            break
        seen.append(line)
        if needle in line:
            return line
    raise AssertionError(f"no {needle!r} within {timeout} s; output:\n{''.join(seen)}")


def _drain(lines: queue.Queue, timeout: float = 10) -> list[str]:
    drained = []
    while (line := lines.get(timeout=timeout)) is not None:
        drained.append(line)
    return drained


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()
