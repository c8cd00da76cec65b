"""A request's work grows linearly with its size, and its size has a documented limit: at most
1,000 elements of a kind (tenders, transactions, exercises, listed IDs), refused beyond that
with a Client fault naming the limit, not a timeout."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from service.domain.limits import MAX_ITEMS
from service.store.tables import distribution, distribution_recipient, request_log, tender, transaction
from service.store.uow import UnitOfWork
from tests.support import messages as msg
from tests.support import option_messages as opt

H10 = "2030-01-01T10:00:00Z"


def count(engine, table, *where) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


@pytest.fixture
def round_trips(monkeypatch) -> list[int]:
    """Messages sent to PostgreSQL through the unit of work, counted as they go."""
    sent = []
    send = UnitOfWork._send

    def counting(self, statement, *, begin):
        sent.append(1)
        return send(self, statement, begin=begin)

    monkeypatch.setattr(UnitOfWork, "_send", counting)
    return sent


def remember_credentials(service, *parties):
    """A read by each party first: its credentials are then cached (TEMIX_CREDENTIAL_CACHE),
    so the requests counted next all skip that lookup alike."""
    for party in parties:
        assert service.call("/EiTender", msg.request_tender(f"warm-{party}", party)).code == "200"


def tenders(service, n, request_id="r-many", prefix="t"):
    payload = msg.create_tender(request_id, "party-A", "party-B", *[(f"{prefix}{i}", msg.product()) for i in range(n)])
    return service.call("/EiTender", payload)


def test_more_tenders_than_the_limit_are_refused_and_nothing_is_written(service, engine):
    reply = tenders(service, MAX_ITEMS + 1)
    assert reply.faultcode == "soap11env:Client.TooManyItems"
    assert "1001 eiTender" in reply.faultstring and str(MAX_ITEMS) in reply.faultstring
    assert count(engine, tender) == count(engine, request_log) == 0


def test_the_limit_itself_is_answered(service, engine):
    reply = tenders(service, MAX_ITEMS)
    assert reply.code == "200", reply.description
    assert count(engine, tender) == MAX_ITEMS
    cancelled = service.call("/EiTender", msg.cancel_tender("c-all", "party-A", *[f"t{i}" for i in range(MAX_ITEMS)]))
    assert cancelled.code == "200", cancelled.description
    assert count(engine, tender, tender.c.cancelled_at.is_(None)) == 0


def test_listing_more_tender_ids_than_the_limit_is_refused(service, engine):
    assert tenders(service, 1).code == "200"
    reply = service.call("/EiTender", msg.cancel_tender("c-many", "party-A", *["t0"] * (MAX_ITEMS + 1)))
    assert reply.faultcode == "soap11env:Client.TooManyItems" and "tenderID" in reply.faultstring
    assert count(engine, tender, tender.c.cancelled_at.is_not(None)) == 0


def test_a_tender_listed_many_times_is_cancelled_once_with_one_lock(service, engine, round_trips):
    assert tenders(service, 2).code == "200"
    round_trips.clear()
    assert service.call("/EiTender", msg.cancel_tender("c-once", "party-A", "t1")).code == "200"
    once = len(round_trips)
    round_trips.clear()
    reply = service.call("/EiTender", msg.cancel_tender("c-same", "party-A", *["t0"] * MAX_ITEMS))
    assert reply.code == "200", reply.description
    assert len(round_trips) == once
    assert count(engine, tender, tender.c.cancelled_at.is_not(None)) == 2


@pytest.mark.parametrize("operation", ["cancel", "accept"])
def test_round_trips_do_not_grow_with_the_number_of_tenders(service, round_trips, operation):
    """Tenders are locked in one statement, whatever their number (no query per tender)."""
    remember_credentials(service, "party-A", "party-B")
    sent = []
    for n in (1, 50):
        prefix = f"n{n}-"
        assert tenders(service, n, f"create-{n}", prefix).code == "200"
        ids = [f"{prefix}{i}" for i in range(n)]
        round_trips.clear()
        if operation == "cancel":
            reply = service.call("/EiTender", msg.cancel_tender(f"c-{n}", "party-A", *ids))
        else:
            accepted = [(f"x-{t}", t, msg.product(side="buy", state="transaction", quantity="1")) for t in ids]
            reply = service.call("/EiTransaction", msg.create_transaction(f"a-{n}", "party-B", "party-A", *accepted))
        assert reply.code == "200", reply.description
        sent.append(len(round_trips))
    assert sent[0] == sent[1]


def test_accepting_distributed_tenders_checks_every_recipient_in_one_query(service, engine, round_trips):
    remember_credentials(service, "party-A", "party-C")
    sent = []
    for n in (1, 50):
        distributed = msg.distribute_tender(f"d-{n}", "party-A", *[(f"d{n}-{i}", msg.product()) for i in range(n)])
        assert service.call("/EiTender", distributed).code == "200"
        accepted = [(f"x-d{n}-{i}", f"d{n}-{i}", msg.product(side="buy", state="transaction", quantity="1")) for i in range(n)]
        round_trips.clear()
        reply = service.call("/EiTransaction", msg.create_transaction(f"a-{n}", "party-C", "party-A", *accepted))
        assert reply.code == "200", reply.description
        sent.append(len(round_trips))
    assert sent[0] == sent[1]
    assert count(engine, transaction) == 51


def test_a_distribution_keeps_its_recipients_once_whatever_its_number_of_tenders(service, engine):
    """T tenders to R parties write T + R rows, not T x R."""
    offers = [(f"d-{i}", msg.product()) for i in range(200)]
    reply = service.call("/EiTender", msg.distribute_tender("d-many", "party-A", *offers))
    assert reply.code == "200", reply.description
    assert count(engine, distribution) == 1
    assert count(engine, distribution_recipient) == 2  # party-B and party-C, enrolled in CTX
    for party in ("party-B", "party-C"):
        seen = service.call("/EiTender", msg.request_tender(f"see-{party}", party))
        assert len(seen.payload.findall("{*}eiTender")) == 200


@pytest.fixture
def call_option(service):
    """A 10 kW call on 10:00-14:00 that party B holds (opt-x), written by A."""
    assert service.call("/EiTender", msg.create_tender("r-opt", "party-A", "party-B", ("opt-1", opt.option()))).code == "200"
    accepted = msg.create_transaction("a-opt", "party-B", "party-A", ("opt-x", "opt-1", opt.option(side="buy", state="transaction")))
    assert service.call("/EiTransaction", accepted).code == "200"


def exercises(n, rate):
    return [(f"ex-{i}", H10, "PT1H", rate) for i in range(n)]


def test_the_limit_of_exercises_is_answered_and_one_more_refused(service, engine, call_option):
    too_many = service.call("/EiTransaction", opt.exercise_option("e-many", "party-B", "party-A", "opt-x", *exercises(MAX_ITEMS + 1, "0.001")))
    assert too_many.faultcode == "soap11env:Client.TooManyItems" and "exercise" in too_many.faultstring
    assert count(engine, transaction, transaction.c.option_transaction_pk.is_not(None)) == 0
    # 1,000 x 0.01 kW is exactly the option's 10 kW: every overlap is summed, none rescanned
    reply = service.call("/EiTransaction", opt.exercise_option("e-all", "party-B", "party-A", "opt-x", *exercises(MAX_ITEMS, "0.01")))
    assert reply.code == "200", reply.description
    assert count(engine, transaction, transaction.c.option_transaction_pk.is_not(None)) == MAX_ITEMS
    more = service.call("/EiTransaction", opt.exercise_option("e-more", "party-B", "party-A", "opt-x", ("ex-x", H10, "PT1H", "0.001")))
    assert more.code == "460", more.description
