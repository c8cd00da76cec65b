"""Meter readings in PostgreSQL: recorded once per key, corrected with history, identical
reports changing nothing, and net delivery read back per party and interval."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text

from service.domain.deliveries import MeterReading, RecordCounts
from service.store.uow import UnitOfWork

CTX = "http://market.example.com/temix/ctx1"
T0 = datetime(2026, 7, 1, 10, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture
def parties(engine):
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO party (party_id, password_hash) VALUES ('a', 'x'), ('b', 'x')"))
        conn.execute(text("INSERT INTO market_context (market_context) VALUES (:ctx)"), {"ctx": CTX})
    return engine


def reading(party="a", hour=0, injection=False, kwh="1.5", interface="node-1"):
    start = T0 + hour * HOUR
    return MeterReading(party, CTX, interface, start, start + HOUR, injection, Decimal(kwh))


def record(engine, readings, by="meter-1", source="req-1", at=T0 + 48 * HOUR) -> RecordCounts:
    with UnitOfWork(engine) as uow:
        done = uow.deliveries.record(readings, by, at, source)
        uow.commit()
    return done


def history(engine) -> list[tuple]:
    with engine.connect() as conn:
        return conn.execute(text(
            "SELECT party_id, interval_start, injection, old_kwh, new_kwh, reported_by, source"
            " FROM meter_reading_history ORDER BY id"
        )).all()


def test_new_readings_are_recorded_and_read_back_exactly(parties):
    assert record(parties, [reading(kwh="1.25"), reading(hour=1, injection=True, kwh="0.000001")]) == RecordCounts(2, 0, 0)
    with UnitOfWork(parties) as uow:
        found = uow.deliveries.for_party("a", CTX, None, T0, T0 + 24 * HOUR)
    assert found == [reading(kwh="1.25"), reading(hour=1, injection=True, kwh="0.000001")]
    assert found[0].energy_kwh.as_tuple() == Decimal("1.25").as_tuple()


def test_a_correction_replaces_the_value_and_keeps_who_when_old_and_new(parties):
    record(parties, [reading(kwh="2")])
    assert record(parties, [reading(kwh="2.5")], by="meter-2", source="req-2") == RecordCounts(0, 1, 0)
    with UnitOfWork(parties) as uow:
        assert [r.energy_kwh for r in uow.deliveries.for_party("a", CTX, "node-1", T0, T0 + HOUR)] == [Decimal("2.5")]
    assert history(parties) == [("a", T0, False, Decimal("2"), Decimal("2.5"), "meter-2", "req-2")]


def test_an_identical_reading_changes_nothing_not_even_who_reported_it(parties):
    record(parties, [reading(kwh="2.0")])
    assert record(parties, [reading(kwh="2.00")], by="meter-2", source="req-2") == RecordCounts(0, 0, 1)
    assert history(parties) == []
    with parties.connect() as conn:
        assert conn.execute(text("SELECT reported_by, source FROM meter_reading")).all() == [("meter-1", "req-1")]


def test_one_report_may_mix_new_corrected_and_unchanged_readings(parties):
    record(parties, [reading(hour=0, kwh="1"), reading(hour=1, kwh="1")])
    done = record(parties, [reading(hour=0, kwh="1"), reading(hour=1, kwh="3"), reading(hour=2, kwh="1")], source="req-2")
    assert done == RecordCounts(new=1, corrected=1, unchanged=1)
    assert [(row[1], row[3], row[4]) for row in history(parties)] == [(T0 + HOUR, Decimal("1"), Decimal("3"))]


def test_net_delivered_is_injection_less_withdrawal_per_party_interface_and_interval(parties):
    record(parties, [
        reading("a", 0, injection=True, kwh="5"), reading("a", 0, injection=False, kwh="1.5"),
        reading("b", 0, injection=False, kwh="2"), reading("a", 1, injection=False, kwh="0.25"),
        reading("a", 5, injection=True, kwh="9"),  # outside the window asked for
    ])
    with UnitOfWork(parties) as uow:
        net = list(uow.deliveries.net_delivered(CTX, T0, T0 + 2 * HOUR))
    assert net == [
        ("a", "node-1", T0, T0 + HOUR, Decimal("3.5")),
        ("b", "node-1", T0, T0 + HOUR, Decimal("-2")),
        ("a", "node-1", T0 + HOUR, T0 + 2 * HOUR, Decimal("-0.25")),
    ]


def test_for_party_sees_only_that_partys_readings_at_the_interface_asked_for(parties):
    record(parties, [reading("a", interface="n1"), reading("a", interface="n2"), reading("b", interface="n1")])
    with UnitOfWork(parties) as uow:
        assert [(r.party_id, r.interface) for r in uow.deliveries.for_party("a", CTX, "n1", T0, T0 + HOUR)] == [("a", "n1")]
        assert len(uow.deliveries.for_party("a", CTX, None, T0, T0 + HOUR)) == 2


def test_the_database_refuses_negative_energy(parties):
    with pytest.raises(Exception, match="ck_meter_reading_energy"):
        record(parties, [reading(kwh="-1")])
    with parties.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM meter_reading")).scalar() == 0


def test_unregistered_names_the_parties_that_are_not_registered_in_one_read(parties):
    with UnitOfWork(parties) as uow:
        assert uow.deliveries.unregistered(["a", "zed", "b", "x"]) == ["x", "zed"]
        assert uow.deliveries.unregistered([]) == []


def test_two_reports_of_the_same_keys_in_opposite_orders_at_once_queue_and_never_deadlock(parties):
    # Each writes its rows in key order: the second waits for the first and corrects it.
    failures = []
    for run in range(5):
        forward = [reading(hour=h, kwh=f"{run}.1") for h in range(1000)]
        backward = [reading(hour=h, kwh=f"{run}.2") for h in reversed(range(1000))]
        both = threading.Barrier(2)

        def report(readings, source):
            both.wait()
            try:
                record(parties, readings, source=source)
            except Exception as error:  # a deadlock (psycopg2 DeadlockDetected) is what this test is for
                failures.append(f"{type(error).__name__}: {str(error).splitlines()[0]}")

        threads = [threading.Thread(target=report, args=(r, f"req-{run}-{k}")) for k, r in enumerate((forward, backward))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert failures == []
    with parties.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM meter_reading")).scalar_one() == 1000


def test_two_first_reports_of_the_same_keys_at_once_keep_the_corrected_values_in_history(parties):
    # The first report holds its new readings uncommitted until the second waits on their keys.
    second = []
    with UnitOfWork(parties) as first:
        assert first.deliveries.record([reading(kwh="1")], "meter-1", T0 + 48 * HOUR, "req-1").new == 1
        waiting = threading.Thread(target=lambda: second.append(record(parties, [reading(kwh="2")], source="req-2")))
        waiting.start()
        with parties.connect() as conn:
            while not conn.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )).scalar_one():
                waiting.join(0.01)
        first.commit()
    waiting.join()
    assert second[0].corrected == 1
    assert [(old, new) for *_, old, new, _, _ in history(parties)] == [(Decimal("1"), Decimal("2"))]
