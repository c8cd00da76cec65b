"""The folder of a ``temix serve`` run's metric files (prometheus_client's multi-process mode).

Standard library only, on purpose: prometheus_client chooses between one process and many
when it is imported, from ``PROMETHEUS_MULTIPROC_DIR``, so the folder must be named in the
environment before anything imports it (``service.observe.metrics`` does).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MULTIPROC_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
# Memory, where there is a tmpfs for it: every request writes into the memory-mapped metric
# files, which need no disk behind them (they die with the run).
SHARED_MEMORY = Path("/dev/shm")
PREFIX = "temix-metrics-"  # then the pid of the serve that made it


def parent_folder() -> str | None:
    """/dev/shm if it is a folder we may write in, else the system's temporary folder."""
    return str(SHARED_MEMORY) if SHARED_MEMORY.is_dir() and os.access(SHARED_MEMORY, os.W_OK | os.X_OK) else None


@contextmanager
def metrics_folder() -> Iterator[Path]:
    """A fresh folder for this run's metric files, named in the environment the workers
    inherit, and removed at the end (last run's counts never leak into this one's). A forked
    worker that leaves through here (gunicorn's do) leaves it alone."""
    owner = os.getpid()
    parent = parent_folder()
    _remove_folders_of_ended_runs(Path(parent or tempfile.gettempdir()))
    folder = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{owner}-", dir=parent))
    before = os.environ.get(MULTIPROC_VARIABLE)
    os.environ[MULTIPROC_VARIABLE] = str(folder)
    try:
        yield folder
    finally:
        if os.getpid() == owner:
            if before is None:
                os.environ.pop(MULTIPROC_VARIABLE, None)
            else:
                os.environ[MULTIPROC_VARIABLE] = before
            shutil.rmtree(folder, ignore_errors=True)


def _remove_folders_of_ended_runs(parent: Path) -> None:
    """A serve killed outright (SIGKILL) could not remove its folder: the next one does."""
    for folder in parent.glob(f"{PREFIX}*-*"):
        pid = folder.name.removeprefix(PREFIX).partition("-")[0]
        try:
            ours = folder.is_dir() and folder.stat().st_uid == os.getuid()
        except OSError:  # removed meanwhile by another serve starting
            continue
        if pid.isdigit() and ours and not is_alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
