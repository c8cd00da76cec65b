"""Issue 15, "the operator's rough edges", each tried as a new user would: the `temix` command
says which database it used, refuses an unknown party and says the window it read, stops
quietly when its reader goes away, and says what to do when a port is taken or no server answers."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest
from sqlalchemy.engine import make_url

from service.config import Settings
from service.cli.common import database_used
from tests.integration.test_cli_market import trade
from tests.support.server import free_port


def test_each_admin_command_says_on_stderr_which_embedded_database_it_used(temix, temix_env):
    data_dir = temix_env["TEMIX_DATA_DIR"]
    for command in (("party", "list"), ("market-context", "list"), ("db", "upgrade")):
        done = temix(*command)
        assert done.returncode == 0, done.stderr
        assert f"temix: database: embedded PostgreSQL in {data_dir}" in done.stderr, command
        assert "temix: database" not in done.stdout  # scripts reading stdout see only the result


def test_an_admin_command_names_the_host_and_database_of_database_url(temix, database_url):
    done = temix("market-context", "list", env={"DATABASE_URL": database_url})
    assert done.returncode == 0, done.stderr
    line = next(line for line in done.stderr.splitlines() if line.startswith("temix: database: "))
    assert line.endswith("(DATABASE_URL)") and f"database: {make_url(database_url).database} on " in line


def test_the_database_named_never_shows_a_password():
    settings = Settings.from_env({}, database_url="postgresql://operator:s3cret@db.example.com:5433/market")
    assert database_used(settings) == "market on db.example.com:5433 (DATABASE_URL)"


def test_positions_of_an_unknown_party_says_so_and_fails(temix, service, database_url):
    done = temix("positions", "nobody", env={"DATABASE_URL": database_url})
    assert done.returncode == 1
    assert "party nobody is unknown" in done.stderr and "temix party list" in done.stderr
    assert done.stdout == ""


def test_positions_says_which_window_it_read_and_how_to_read_another(temix, service, database_url):
    done = temix("positions", "party-A", env={"DATABASE_URL": database_url})
    assert done.returncode == 0, done.stderr
    assert "UTC (the default window: today, UTC)" in done.stdout
    assert "no position in this window" in done.stdout and "--from" in done.stdout


def test_positions_piped_into_head_stops_quietly(service, database_url, temix_env, tmp_path):
    trade(service)
    # a minute grid over a day: ~120 KB, more than a pipe holds, so the writer meets a closed pipe
    command = [sys.executable, "-m", "service.cli", "positions", "party-A", "--from", "2030-01-01T00:00:00Z",
               "--resolution", "PT1M"]
    done = subprocess.run(
        ["bash", "-c", '"$@" | head -n 2; echo "status ${PIPESTATUS[0]}" >&2', "pipe", *command],
        capture_output=True, text=True, env={**temix_env, "DATABASE_URL": database_url}, cwd=tmp_path, timeout=120,
    )
    assert done.stdout.splitlines()[0].startswith("positions of party-A from 2030-01-01 00:00")
    assert "Broken pipe" not in done.stderr and "Errno 32" not in done.stderr and "Traceback" not in done.stderr
    assert "status 141" in done.stderr  # 128 + SIGPIPE, as a shell reports a command its reader left


@pytest.mark.parametrize("front", ["granian", "gunicorn"])
def test_serve_on_a_port_in_use_says_so_and_how_to_choose_another(temix, front):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = temix("serve", "--port", str(port), env={"TEMIX_FRONT": front}, timeout=60)
    assert done.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use" in done.stderr
    assert "--port" in done.stderr and "Traceback" not in done.stderr


def test_demo_without_a_server_says_how_to_start_one(temix, tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    done = temix("demo", "--url", url, "--out", str(tmp_path / "out"))
    assert done.returncode == 1
    assert f"no server answers at {url}" in done.stderr
    assert "scripts/serve.sh" in done.stderr and "temix serve" in done.stderr
    assert "Traceback" not in done.stderr


def test_positions_without_a_reachable_database_says_what_to_start(temix):
    url = f"postgresql://operator:s3cret@127.0.0.1:{free_port()}/market"
    done = temix("positions", "party-A", env={"DATABASE_URL": url})
    assert done.returncode == 1
    assert "is PostgreSQL running there?" in done.stderr and "scripts/serve.sh" in done.stderr
    assert "s3cret" not in done.stderr and "Traceback" not in done.stderr
