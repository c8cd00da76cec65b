"""The files of deploy/ that run beside the service: the readiness wait of the systemd unit
(deploy/wait_ready.py, also the compose health check) against the running server, and the
unit itself as systemd reads it (where systemd-analyze is installed)."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from service.config import REPO_ROOT
from tests.support.server import free_port

WAIT_READY = REPO_ROOT / "deploy" / "wait_ready.py"


def wait_ready(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(WAIT_READY), *args], capture_output=True, text=True, timeout=60)


def test_wait_ready_returns_once_the_service_and_its_database_answer(server):
    done = wait_ready("--url", server.base_url, "--timeout", "30")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"temix at {server.base_url} is ready\n"


def test_wait_ready_fails_and_says_why_when_nothing_answers():
    url = f"http://127.0.0.1:{free_port()}"
    done = wait_ready("--url", url, "--timeout", "1")
    assert done.returncode == 1
    assert done.stderr.startswith(f"temix at {url} not ready after 1 s: ")
    assert "refused" in done.stderr.lower()


def test_the_systemd_unit_is_valid_for_systemd(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    # the unit as installed: its /opt/temix checkout and /etc/temix/temix.env here
    unit = (REPO_ROOT / "deploy" / "temix.service").read_text()
    unit = unit.replace("/opt/temix", str(REPO_ROOT)).replace(
        "/etc/temix/temix.env", str(REPO_ROOT / "deploy" / "temix.env.example")
    )
    (tmp_path / "temix.service").write_text(unit)
    done = subprocess.run([analyze, "verify", str(tmp_path / "temix.service")], capture_output=True, text=True)
    # the one complaint allowed: no .venv in this checkout when the tests run from another venv
    complaints = [line for line in done.stderr.splitlines() if line.strip() and ".venv/bin/" not in line]
    assert complaints == [], done.stderr
