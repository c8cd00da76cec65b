"""``temix`` commands that run beside ``temix serve`` as processes of their own: the push
worker (``temix outbox push --follow``) and the scheduled settlement (``temix settle
--every``).

Child processes started with ``subprocess``, not threads or ``multiprocessing``: the HTTP
fronts fork their workers from serve's process, and a thread would be forked with them, while
``multiprocessing``'s exit handler in a forked worker would terminate serve's children. Each
companion gets serve's database and serve's pid, and stops by itself when serve is gone.
"""

from __future__ import annotations

import os
import subprocess
import sys

SERVE_PID = "TEMIX_SERVE_PID"  # set for a companion: the serve process it belongs to


def serve_pid() -> int | None:
    """The ``temix serve`` this process runs beside, if it is a companion."""
    found = os.environ.get(SERVE_PID)
    return int(found) if found else None


def serve_is_gone(pid: int | None) -> bool:
    return pid is not None and os.getppid() != pid


class Companion:
    """One ``temix`` command as a child of serve, on the database serve resolved; stopped with
    SIGTERM (killed if it has not ended 30 s later)."""

    def __init__(self, settings, *arguments: str):
        self._settings = settings
        self._arguments = arguments
        self._process: subprocess.Popen | None = None

    def start(self) -> None:
        settings = self._settings
        env = {**os.environ, "DATABASE_URL": settings.database_url, SERVE_PID: str(os.getpid())}
        command = [sys.executable, "-m", "service.cli", *self._arguments, "--data-dir", str(settings.data_dir)]
        self._process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL)

    def stop(self) -> None:
        if self._process is None or self._process.poll() is not None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
