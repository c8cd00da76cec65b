"""A real ``temix serve`` in its own process, as the README starts it: for the e2e and faults tiers.

``running_server(data_dir, port)`` starts ``temix serve --data-dir DIR --port PORT`` (embedded
PostgreSQL in DIR, migrations applied), waits until ``GET /health`` answers 200, and at the end
sends SIGTERM and checks that it exits and stops its database.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import pytest
import requests

from service.config import REPO_ROOT

CTX = "http://market.example.com/temix/ctx1"
START_TIMEOUT = 120  # seconds; the first start runs initdb
STOP_TIMEOUT = 60


class Server(NamedTuple):
    """The running service: ``base_url, data_dir = server``."""

    base_url: str  # http://127.0.0.1:PORT
    data_dir: Path
    pid: int  # of the `temix serve` process
    log_path: Path  # its standard output and error
    env: dict[str, str] = {}  # settings given to it (DATABASE_URL, ...), given to `temix` commands too

    def log_tail(self, lines: int = 40) -> str:
        return _tail(self.log_path, lines)

    def temix(self, *args: str, stdin: str = "") -> str:
        """Run a ``temix`` admin command on the server's data folder, as an operator would; its
        standard output."""
        done = subprocess.run(
            temix_command(*args, "--data-dir", str(self.data_dir)), input=stdin, capture_output=True,
            text=True, env={**temix_env(), **self.env}, cwd=self.data_dir, timeout=START_TIMEOUT,
        )
        assert done.returncode == 0, f"temix {' '.join(args)}: {done.stderr}"
        return done.stdout

    def add_party(
        self,
        party_id: str,
        password: str,
        *,
        market_contexts: tuple[str, ...] = (),
        groups: tuple[str, ...] = (),
        text_only: bool = False,
    ) -> None:
        """``temix party add PARTY_ID --password-stdin``."""
        args = ["party", "add", party_id, "--password-stdin"]
        args += [f"--market-context={uri}" for uri in market_contexts]
        args += [f"--group={name}" for name in groups]
        args += ["--text-only"] if text_only else []
        self.temix(*args, stdin=password + "\n")

    def add_market_context(
        self, uri: str, *, timezone: str = "UTC", currency: str | None = None, energy_unit: str = "kWh"
    ) -> None:
        """``temix market-context add URI`` (the service refuses tenders in unknown ones)."""
        args = ["market-context", "add", uri, "--timezone", timezone, "--energy-unit", energy_unit]
        args += ["--currency", currency] if currency else []
        self.temix(*args)


def temix_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "service.cli", *args]


def temix_env() -> dict[str, str]:
    """None of the caller's TEMIX_*/DATABASE_URL settings; the checkout importable."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("TEMIX_") and name not in ("DATABASE_URL", "PYTHONPATH")
    }
    env["PYTHONPATH"] = str(REPO_ROOT)
    return env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running_server(
    *serve_args: str,
    prefix: str = "temix-e2e-",
    env: dict[str, str] | None = None,
    data_dir: Path | None = None,
    register_ctx: bool = True,
    ca_file: Path | None = None,
) -> Iterator[Server]:
    """``temix serve`` on a new data folder (or ``data_dir``, left in place) and a free port
    (plus ``serve_args``), with ``CTX`` registered (unless ``register_ctx`` is false: a second
    server on a database that has it); stopped with SIGTERM at the end, which must stop its
    embedded database too. With ``ca_file`` (the CA of its --certfile) it is called over HTTPS."""
    # Not under pytest's basetemp (mode 0700): the embedded PostgreSQL runs as another user.
    ours = data_dir is None
    data_dir = Path(tempfile.mkdtemp(prefix=prefix)) if ours else data_dir
    port = free_port()
    log_path = data_dir / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            temix_command("serve", "--data-dir", str(data_dir), "--port", str(port), *serve_args),
            stdout=log, stderr=subprocess.STDOUT, env={**temix_env(), **(env or {})}, cwd=data_dir,
        )
    try:
        base_url = f"{'https' if ca_file else 'http'}://127.0.0.1:{port}"
        _wait_healthy(process, base_url, log_path, ca_file)
        running = Server(base_url, data_dir, process.pid, log_path, dict(env or {}))
        if register_ctx:
            running.add_market_context(CTX, currency="USD")
        yield running
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            status = process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            pytest.fail(f"temix serve ignored SIGTERM for {STOP_TIMEOUT} s:\n{_tail(log_path)}")
        database_left_running = (data_dir / "pg" / "postmaster.pid").exists()
        log_tail = _tail(log_path)
        if ours and not database_left_running:
            shutil.rmtree(data_dir, ignore_errors=True)
    # SIGTERM ends `serve` like Ctrl-C: a clean exit, or 128 + SIGTERM.
    assert status in (0, 128 + signal.SIGTERM), f"temix serve exited with {status}:\n{log_tail}"
    assert not database_left_running, f"the embedded PostgreSQL in {data_dir} still runs"


def _wait_healthy(process: subprocess.Popen, base_url: str, log_path: Path, ca_file: Path | None = None) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"temix serve exited with {process.returncode}:\n{_tail(log_path)}")
        try:
            if requests.get(f"{base_url}/health", timeout=2, verify=str(ca_file) if ca_file else True).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    pytest.fail(f"temix serve not healthy after {START_TIMEOUT} s:\n{_tail(log_path)}")


def _tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
