"""The embedded start copes with a stale ``postmaster.pid`` whose PID another live process
has taken (after a reboot), and never removes the file of a server that runs."""

from __future__ import annotations

import subprocess
from pathlib import Path

import psycopg2
import pytest

from service.store.embedded import pgdata_path, start_embedded, stop_embedded


def answers(url: str) -> bool:
    connection = psycopg2.connect(url.replace("postgresql+psycopg2://", "postgresql://"))
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    finally:
        connection.close()


def postmaster_pid(data_dir: Path) -> int:
    return int((pgdata_path(data_dir) / "postmaster.pid").read_text().split()[0])


@pytest.fixture
def stopped_server(embedded_data_dir) -> tuple[Path, list[str]]:
    """A data folder whose server ran and stopped, and the postmaster.pid it had."""
    start_embedded(embedded_data_dir)
    lines = (pgdata_path(embedded_data_dir) / "postmaster.pid").read_text().splitlines()
    assert stop_embedded(embedded_data_dir)
    return embedded_data_dir, lines


def leave_stale_pid_file(data_dir: Path, lines: list[str], pid: int) -> None:
    (pgdata_path(data_dir) / "postmaster.pid").write_text("\n".join([str(pid), *lines[1:]]) + "\n")


@pytest.fixture
def unrelated_process():
    process = subprocess.Popen(["sleep", "120"])
    yield process.pid
    process.kill()
    process.wait()


def test_a_stale_pid_file_naming_an_unrelated_live_process_is_removed_and_the_server_starts(
    stopped_server, unrelated_process
):
    data_dir, lines = stopped_server
    leave_stale_pid_file(data_dir, lines, unrelated_process)
    try:
        url = start_embedded(data_dir)
        assert answers(url)
        assert postmaster_pid(data_dir) != unrelated_process
    finally:
        assert stop_embedded(data_dir)


def test_a_stale_pid_file_naming_the_postgres_of_another_folder_is_removed(stopped_server, postgres_server):
    if postgres_server.data_dir is None:
        pytest.skip("the run's database is not embedded")
    data_dir, lines = stopped_server
    other = postmaster_pid(postgres_server.data_dir)
    leave_stale_pid_file(data_dir, lines, other)
    try:
        assert answers(start_embedded(data_dir))
        assert postmaster_pid(data_dir) != other
    finally:
        assert stop_embedded(data_dir)
    assert answers(postgres_server.admin_url)  # the other server was left alone


def test_the_pid_file_of_a_running_server_is_kept(embedded_data_dir):
    url = start_embedded(embedded_data_dir)
    try:
        running = postmaster_pid(embedded_data_dir)
        assert start_embedded(embedded_data_dir) == url  # a second start finds it and keeps it
        assert postmaster_pid(embedded_data_dir) == running
        assert answers(url)
    finally:
        assert stop_embedded(embedded_data_dir)
