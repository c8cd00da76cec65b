"""The unit of work frames its own transaction: queued writes, prepared statements, refusals."""

from __future__ import annotations

import psycopg2
import pytest
from sqlalchemy import text

from service.domain.errors import DuplicateIdError
from service.store.db import make_engine
from service.store.uow import UnitOfWork

INSERT_NONCE = "INSERT INTO used_nonce (party_id, nonce, created_at) VALUES (%s, %s, now())"


@pytest.fixture(params=["engine as tests build it", "autocommit engine as the service builds it"])
def any_engine(request, engine, database_url):
    if request.param.startswith("engine"):
        yield engine
        return
    service_engine = make_engine(database_url, autocommit=True)
    yield service_engine
    service_engine.dispose()


@pytest.fixture
def party(engine):
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO party (party_id, password_hash) VALUES ('p', 'x')"))
    return "p"


def nonces(engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT nonce FROM used_nonce ORDER BY nonce")).scalars())


def queue_nonce(uow, party, nonce):
    uow.queue(uow.sql("test_insert_nonce", INSERT_NONCE, (party, nonce)),
              refusals={"used_nonce_pkey": lambda: DuplicateIdError(f"nonce {nonce} again")})


def test_queued_writes_are_written_by_commit_alone(any_engine, engine, party):
    with UnitOfWork(any_engine) as uow:
        queue_nonce(uow, party, "n1")
        queue_nonce(uow, party, "n2")
        assert nonces(engine) == []  # nothing sent yet
        uow.commit()
    assert nonces(engine) == ["n1", "n2"]


def test_a_unit_left_without_commit_writes_nothing_even_after_a_query(any_engine, engine, party):
    with UnitOfWork(any_engine) as uow:
        queue_nonce(uow, party, "n1")
        assert uow.fetch(uow.sql("test_count_nonces", "SELECT count(*) FROM used_nonce WHERE party_id = %s", (party,))) == [(1,)]
    assert nonces(engine) == []


def test_a_violation_in_the_last_message_undoes_the_whole_message_and_names_the_refusal(any_engine, engine, party):
    with UnitOfWork(any_engine) as uow:
        queue_nonce(uow, party, "n1")
        queue_nonce(uow, party, "n1")
        with pytest.raises(DuplicateIdError, match="nonce n1 again"):
            uow.commit()
    assert nonces(engine) == []


def test_a_violation_after_a_query_rolls_back_the_transaction(any_engine, engine, party):
    with UnitOfWork(any_engine) as uow:
        uow.fetch(uow.sql("test_count_nonces", "SELECT count(*) FROM used_nonce WHERE party_id = %s", (party,)))
        queue_nonce(uow, party, "n1")
        queue_nonce(uow, party, "n1")
        with pytest.raises(DuplicateIdError):
            uow.commit()
    assert nonces(engine) == []


def test_prepared_statements_survive_a_failed_message_on_the_same_connection(database_url, engine, party):
    service_engine = make_engine(database_url, autocommit=True, application_name="temix-tests")
    backends = set()
    try:
        with UnitOfWork(service_engine) as uow:  # PREPARE and a violation in one message
            backends.add(uow.fetch(b"SELECT pg_backend_pid()")[0][0])
            queue_nonce(uow, party, "n1")
            queue_nonce(uow, party, "n1")
            with pytest.raises(DuplicateIdError):
                uow.commit()
        for nonce in ("n2", "n3"):  # prepared again after the failure, then reused
            with UnitOfWork(service_engine) as uow:
                backends.add(uow.fetch(b"SELECT pg_backend_pid()")[0][0])
                queue_nonce(uow, party, nonce)
                uow.commit()
    finally:
        service_engine.dispose()
    assert len(backends) == 1  # one pooled connection served the three units
    assert nonces(engine) == ["n2", "n3"]


def test_core_statements_share_the_units_transaction(any_engine, engine, party):
    with UnitOfWork(any_engine) as uow:
        queue_nonce(uow, party, "n1")
        # asking for the SQLAlchemy connection sends the queued write inside the transaction
        assert uow.conn.execute(text("SELECT count(*) FROM used_nonce")).scalar() == 1
    assert nonces(engine) == []
    assert any_engine.pool.checkedout() == 0  # the connection went back to the pool


TRICKY = ["tab\there", "back\\slash", "new\nline\r", "\\N", "", "\\x41", "plain é"]


def test_copied_rows_follow_the_queued_writes_and_keep_every_character(any_engine, engine, party):
    from datetime import UTC, datetime

    with UnitOfWork(any_engine) as uow:
        queue_nonce(uow, party, "queued")
        uow.copy("used_nonce", [dict(party_id=party, nonce=n, created_at=datetime(2031, 6, 2, tzinfo=UTC)) for n in TRICKY])
        uow.commit()
    assert sorted(nonces(engine)) == sorted(["queued", *TRICKY])


def test_copied_rows_are_not_written_without_commit_nor_after_a_refused_row(any_engine, engine, party):
    from datetime import UTC, datetime

    with UnitOfWork(any_engine) as uow:
        uow.copy("used_nonce", [dict(party_id=party, nonce="uncommitted", created_at=datetime(2031, 6, 2, tzinfo=UTC))])
    with pytest.raises(psycopg2.IntegrityError), UnitOfWork(any_engine) as uow:
        uow.copy("used_nonce", [dict(party_id=party, nonce="fine", created_at=datetime(2031, 6, 2, tzinfo=UTC))])
        uow.copy("used_nonce", [dict(party_id=party, nonce="refused", created_at=None)])  # NOT NULL
        uow.commit()
    assert nonces(engine) == []
