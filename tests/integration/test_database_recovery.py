"""Connections the server ended (a restart, a failover, pg_terminate_backend) are replaced,
never pooled again; an unreachable database is a quick Server fault and a 503 on /ready."""

from __future__ import annotations

import logging
import uuid

import pytest
from sqlalchemy import text

from service.app import create_app
from service.config import Settings
from service.store.db import DatabaseUnavailableError, database_answers, make_engine
from service.store.uow import UnitOfWork
from tests.support import messages as msg
from tests.support.service import PARTIES, service  # noqa: F401  (fixture)
from tests.support.soap import InProcessClient

UNREACHABLE = "postgresql://postgres@/temix?host=/nonexistent-socket-dir"


@pytest.fixture
def service_engine(database_url):
    """An engine as each worker builds it, of this test alone (the run's engine stays whole)."""
    engine = make_engine(database_url, autocommit=True)
    yield engine
    engine.dispose()


def backend_pid(uow: UnitOfWork) -> int:
    return uow.fetch(b"SELECT pg_backend_pid()")[0][0]


def terminate(engine, pid: int) -> None:
    """End a backend as a restart does, and wait until it is gone."""
    with engine.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid}).scalar()


def test_a_pooled_connection_the_server_ended_is_replaced_before_the_next_request_uses_it(service_engine, engine):
    with UnitOfWork(service_engine) as uow:
        ended = backend_pid(uow)
    terminate(engine, ended)
    with UnitOfWork(service_engine) as uow:  # no failure: the checkout saw the socket closed
        assert backend_pid(uow) != ended


def test_a_connection_lost_during_a_unit_of_work_is_discarded_with_every_older_one(service_engine, engine):
    with UnitOfWork(service_engine) as first, UnitOfWork(service_engine) as second:
        pooled = {backend_pid(first), backend_pid(second)}
    with pytest.raises(DatabaseUnavailableError) as lost:
        with UnitOfWork(service_engine) as uow:
            ended = backend_pid(uow)
            terminate(engine, ended)
            backend_pid(uow)
    assert not lost.value.committing
    # the other pooled connection was healthy, but older than the loss: replaced too
    with UnitOfWork(service_engine) as first, UnitOfWork(service_engine) as second:
        assert not {backend_pid(first), backend_pid(second)} & pooled


def test_a_connection_lost_with_the_commit_says_the_outcome_is_unknown(service_engine, engine):
    with pytest.raises(DatabaseUnavailableError) as lost:
        with UnitOfWork(service_engine) as uow:
            terminate(engine, backend_pid(uow))
            uow.queue(b"SELECT 1")
            uow.commit()
    assert lost.value.committing


def test_an_unreachable_database_is_unavailable_at_once():
    engine = make_engine(UNREACHABLE, autocommit=True)
    try:
        with pytest.raises(DatabaseUnavailableError, match="nonexistent-socket-dir"):
            with UnitOfWork(engine):
                pass
        assert not database_answers(engine)
    finally:
        engine.dispose()


def test_the_readiness_check_answers_for_a_running_database(service_engine):
    assert database_answers(service_engine)


@pytest.fixture
def served_by(service, tmp_path, clock):  # noqa: F811  (service: the fixture, for its parties)
    """The service's WSGI app on an engine of its own (as a worker builds it)."""
    settings = Settings.from_env(
        environ={}, data_dir=tmp_path, database_url="postgresql://unused/", allow_insecure_password=True
    )
    engines = []

    def app_on(engine):
        engines.append(engine)
        return InProcessClient(create_app(settings, engine, clock=clock), PARTIES)

    yield app_on
    for engine in engines:
        engine.dispose()


def create_tender(client: InProcessClient):
    tender = f"t-{uuid.uuid4().hex[:8]}"
    return client.call("/EiTender", msg.create_tender(f"r-{tender}", "party-A", "party-B", (tender, msg.product())))


def test_requests_are_served_again_after_the_server_ended_every_connection(served_by, database_url, engine):
    client = served_by(make_engine(database_url, autocommit=True))
    assert create_tender(client).code == "200"
    with engine.connect() as conn:
        ended = conn.execute(
            text("SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE application_name = 'temix'")
        ).scalars().all()
    assert ended and all(ended)
    assert create_tender(client).code == "200"
    assert client.raw("/ready", b"", method="GET").status == 200


def test_an_unreachable_database_is_one_server_fault_and_one_log_line(served_by, caplog):
    client = served_by(make_engine(UNREACHABLE, autocommit=True))
    with caplog.at_level(logging.INFO):
        reply = create_tender(client)
    assert reply.is_fault and reply.faultcode.endswith(":Server")
    assert reply.faultstring == "The database is unavailable: the request was not applied; try again later"
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert "nonexistent-socket-dir" in caplog.records[0].getMessage()
    assert not any(r.exc_info for r in caplog.records)
    ready = client.raw("/ready", b"", method="GET")
    assert (ready.status, ready.body) == (503, b"database unavailable\n")
    assert client.raw("/health", b"", method="GET").status == 200
