"""After a crash and a reboot, the embedded data folder's ``postmaster.pid`` may name a PID
that another live process now has: ``temix serve`` starts anyway and serves."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support import messages as msg
from tests.support.faults import post
from tests.support.server import START_TIMEOUT, running_server, temix_command, temix_env


def test_serve_starts_over_a_stale_pid_file_whose_pid_another_process_took():
    data_dir = Path(tempfile.mkdtemp(prefix="temix-faults-"))
    unrelated = subprocess.Popen(["sleep", "300"])
    try:
        upgraded = subprocess.run(
            temix_command("db", "upgrade", "--data-dir", str(data_dir)),
            capture_output=True, text=True, env=temix_env(), cwd=data_dir, timeout=START_TIMEOUT,
        )
        assert upgraded.returncode == 0, upgraded.stderr  # the folder exists, its server stopped
        pgdata = data_dir.resolve() / "pg"
        # what a server killed by a power cut leaves; the PID is now the sleep's
        (pgdata / "postmaster.pid").write_text(
            f"{unrelated.pid}\n{pgdata}\n{int(time.time()) - 3600}\n5432\n{pgdata}\n\n  5432001    32768\nready   \n"
        )

        with running_server("--allow-insecure-password", prefix="temix-faults-", data_dir=data_dir) as server:
            seller, buyer = "seller-stale", "buyer-stale"
            for party in (seller, buyer):
                server.add_party(party, party)
            created = post(server, "/EiTender", msg.create_tender("r-stale", seller, buyer, ("t-stale", msg.product())))
            assert created.code == "200"
            assert int((pgdata / "postmaster.pid").read_text().split()[0]) != unrelated.pid
            assert "removed as stale" in server.log_path.read_text(errors="replace")
        assert unrelated.poll() is None  # left alone
    finally:
        unrelated.kill()
        unrelated.wait()
        shutil.rmtree(data_dir, ignore_errors=True)
