"""The Alembic migrations build exactly the schema of service/store/tables.py, and run safely."""

from __future__ import annotations

import time

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import OperationalError

from service.store.db import make_engine
from service.store.migrate import current_revision, downgrade, head_revision, upgrade
from service.store.tables import metadata


def _differences(engine: Engine) -> list:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        return compare_metadata(context, metadata)


def _index_definitions(engine: Engine, names) -> dict[str, str]:
    """name -> CREATE INDEX statement, of those of ``names`` the database has."""
    with engine.connect() as conn:
        return dict(
            conn.execute(
                text("select indexname, indexdef from pg_indexes where indexname = any(:names)"),
                {"names": list(names)},
            ).all()
        )


def test_the_migrated_schema_and_the_table_definitions_agree(database_engine):
    assert _differences(database_engine) == []


def test_partial_indexes_keep_their_where_clause(database_engine):
    expected = {
        index.name: str(index.dialect_options["postgresql"]["where"])
        for table in metadata.sorted_tables
        for index in table.indexes
        if index.dialect_options["postgresql"]["where"] is not None
    }
    assert expected, "tables.py defines no partial index any more: drop this test"
    found = _index_definitions(database_engine, expected)
    assert set(found) == set(expected)
    for name, definition in found.items():
        assert " WHERE " in definition, f"{name} is not partial: {definition}"


def test_covering_primary_keys_include_what_tables_py_says(database_engine):
    # compare_metadata does not see INCLUDE columns
    expected = {
        table.primary_key.name: table.primary_key.dialect_options["postgresql"]["include"]
        for table in metadata.sorted_tables
        if table.primary_key.dialect_options["postgresql"]["include"]
    }
    assert expected, "tables.py defines no covering primary key any more: drop this test"
    found = _index_definitions(database_engine, expected)
    assert set(found) == set(expected)
    for name, definition in found.items():
        assert definition.endswith(f"INCLUDE ({', '.join(expected[name])})"), definition


def test_downgrade_to_base_then_upgrade_to_head_rebuilds_the_schema(fresh_database_url):
    engine = make_engine(fresh_database_url)
    try:
        upgrade(fresh_database_url)
        assert current_revision(fresh_database_url) == head_revision()

        downgrade(fresh_database_url, "base")
        assert set(inspect(engine).get_table_names()) == {"alembic_version"}
        assert current_revision(fresh_database_url) is None

        upgrade(fresh_database_url)
        assert current_revision(fresh_database_url) == head_revision()
        assert _differences(engine) == []
    finally:
        engine.dispose()


def test_a_migration_gives_up_on_a_locked_table_instead_of_queueing(fresh_database_url):
    """lock_timeout (migrations/env.py): a migration waiting behind a long transaction would
    block every request queued behind it, so it fails within seconds instead."""
    upgrade(fresh_database_url, "0001")
    engine = make_engine(fresh_database_url)
    try:
        with engine.connect() as holder:
            holder.execute(text("LOCK TABLE party IN ACCESS EXCLUSIVE MODE"))
            started = time.monotonic()
            with pytest.raises(OperationalError, match="lock timeout"):
                upgrade(fresh_database_url, "0002")  # adds a foreign key to party
            waited = time.monotonic() - started
            holder.rollback()
    finally:
        engine.dispose()
    assert waited < 15
    assert current_revision(fresh_database_url) == "0001"


def test_0012_moves_each_tenders_recipients_into_a_distribution_and_back(fresh_database_url):
    upgrade(fresh_database_url, "0011")
    engine = make_engine(fresh_database_url)
    tender = (
        "INSERT INTO tender (id, party_id, tender_id, request_id, side, transactive_state, product_kind,"
        " delivery_node, market_context, start_at, end_at, price_per_kwh, quantity_kw, remaining_kw, rate_scale,"
        " product_xml) VALUES ({pk}, 'rep', 't{pk}', 'r1', 'sell', 'tender', 'energy', 'N', 'ctx',"
        " '2030-01-01T10:00Z', '2030-01-01T11:00Z', 0.1, 5, 5, 'k', '')"
    )
    try:
        with engine.begin() as conn:
            for party in ("rep", "c1", "c2"):
                conn.execute(text(f"INSERT INTO party (party_id, password_hash) VALUES ('{party}', 'x')"))
            for pk in (1, 2):
                conn.execute(text(tender.format(pk=pk)))
            conn.execute(text("INSERT INTO tender_recipient VALUES (1, 'c1'), (1, 'c2'), (2, 'c2')"))
        upgrade(fresh_database_url, "0012")
        recipients = "SELECT t.id, r.party_id FROM tender t JOIN distribution_recipient r USING (distribution_pk) ORDER BY 1, 2"
        with engine.connect() as conn:
            assert conn.execute(text(recipients)).all() == [(1, "c1"), (1, "c2"), (2, "c2")]
            # the next distribution is numbered after the moved ones
            assert conn.execute(text("INSERT INTO distribution (party_id, request_id) VALUES ('rep', 'r2') RETURNING id")).scalar_one() == 3
            conn.rollback()
        downgrade(fresh_database_url, "0011")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT tender_pk, party_id FROM tender_recipient ORDER BY 1, 2")).all() == [
                (1, "c1"), (1, "c2"), (2, "c2")
            ]
    finally:
        engine.dispose()
