"""End-to-end fixtures: the real ``temix serve``, started once for the run, as the README says.

``server`` is a running service (``tests.support.server.running_server``): ``temix serve
--data-dir DIR --port PORT`` in its own process, ready once ``GET /health`` answers 200, stopped
with SIGTERM at the end. Register parties with ``server.add_party(...)`` (``temix party add``,
beside the running server) and more market contexts with ``server.add_market_context(...)``;
``CTX`` (UTC, USD) is registered at start. Tests share the server: each uses party and message
ids of its own (e.g. from uuid4). It lets registrars set parties' first passwords
(``TEMIX_ALLOW_REGISTRAR_PASSWORDS=1``), as ``temix demo --registrar`` needs.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.server import CTX, Server, running_server, temix_env  # noqa: F401  (used by tests)


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    # the e2e tests send PasswordText (zeep's default) over plain HTTP, as the local tests may
    with running_server("--allow-insecure-password", env={"TEMIX_ALLOW_REGISTRAR_PASSWORDS": "1"}) as running:
        yield running
