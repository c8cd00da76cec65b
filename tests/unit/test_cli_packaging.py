"""The temix command as installed: its version, and the optional extras it names when missing
(``spyne`` for TEMIX_SOAP_STACK=spyne, ``demo`` for ``temix demo`` and ``positions --plot``).

A missing extra is simulated by a None in sys.modules, so these run whether it is installed
or not; each command must refuse before it opens a database."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from service.cli import run
from service.config import REPO_ROOT

PROJECT_VERSION = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]


def test_version_prints_the_version_of_pyproject_toml(capsys):
    with pytest.raises(SystemExit) as done:
        run(["--version"])

    assert done.value.code == 0
    assert capsys.readouterr().out == f"temix {PROJECT_VERSION}\n"


@pytest.mark.parametrize(
    "command",
    [[sys.executable, "-m", "service.cli"], [str(Path(sys.executable).parent / "temix")]],
    ids=["python -m service.cli", "console script"],
)
def test_version_through_the_installed_entry_points(command):
    done = subprocess.run([*command, "--version"], capture_output=True, text=True, timeout=60, check=False)

    assert (done.returncode, done.stdout, done.stderr) == (0, f"temix {PROJECT_VERSION}\n", "")


@pytest.fixture
def bare_environment(monkeypatch, tmp_path):
    """No TEMIX_*/DATABASE_URL of the caller's: the data folder is tmp_path."""
    for name in [n for n in list(os.environ) if n.startswith("TEMIX_") or n == "DATABASE_URL"]:
        monkeypatch.delenv(name)
    return tmp_path


def without(monkeypatch, *modules: str) -> None:
    """Make ``import module`` fail as if it were not installed."""
    for name in [n for n in sys.modules if n.split(".")[0] in modules]:
        monkeypatch.delitem(sys.modules, name)
    for module in modules:
        monkeypatch.setitem(sys.modules, module, None)


def test_serve_with_the_spyne_stack_but_no_spyne_is_a_settings_error(monkeypatch, capsys, bare_environment):
    without(monkeypatch, "spyne")
    monkeypatch.delitem(sys.modules, "service.soap.spyne_app", raising=False)
    monkeypatch.setenv("TEMIX_SOAP_STACK", "spyne")

    status = run(["serve", "--data-dir", str(bare_environment), "--port", "1"])

    error = capsys.readouterr().err
    assert status == 2
    assert error.startswith("temix: error: TEMIX_SOAP_STACK=spyne needs the spyne extra")
    assert "pip install -e '.[spyne]'" in error
    assert list(bare_environment.iterdir()) == []  # no database started


def test_demo_without_the_demo_extra_says_what_to_install(monkeypatch, capsys, bare_environment):
    without(monkeypatch, "matplotlib")

    status = run(["demo", "--url", "http://127.0.0.1:1", "--out", str(bare_environment / "out"),
                  "--data-dir", str(bare_environment)])

    error = capsys.readouterr().err
    assert status == 1
    assert error.startswith("temix: the demo needs the demo extra: pip install -e '.[demo]'")
    assert list(bare_environment.iterdir()) == []  # no party registered, no plot folder


def test_positions_plot_without_the_demo_extra_says_what_to_install(monkeypatch, capsys, bare_environment):
    without(monkeypatch, "matplotlib")

    status = run(["positions", "party-A", "--plot", str(bare_environment / "p.png"),
                  "--data-dir", str(bare_environment)])

    assert status == 1
    assert capsys.readouterr().err.startswith("temix: --plot needs the demo extra: pip install -e '.[demo]'")
    assert list(bare_environment.iterdir()) == []  # the database was not opened


OPTIONAL = ("spyne", "matplotlib", "zeep", "requests")


def test_the_core_install_requires_none_of_the_optional_packages():
    from importlib.metadata import requires

    core = [r for r in requires("temix-service") if "extra ==" not in r]
    assert core, "no core requirement read from the package metadata"
    assert not [r for r in core if r.split("=")[0].strip().lower() in OPTIONAL]


def test_the_service_and_the_command_load_without_the_optional_packages():
    blocked = "; ".join(f"sys.modules[{name!r}] = None" for name in OPTIONAL)
    script = (
        f"import sys; {blocked}\n"
        "import service.app, service.front.granian_server, service.front.gunicorn_server, service.report\n"
        "from service.cli import build_parser\n"
        "build_parser().parse_args(['serve'])\n"
        "print('loaded')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          check=False, cwd=REPO_ROOT)

    assert (done.returncode, done.stdout, done.stderr) == (0, "loaded\n", "")
