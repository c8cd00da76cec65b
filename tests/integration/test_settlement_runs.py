"""Settlement on the real database: random trades and readings settle, in any order of their
intervals, to positions equal to delivery, with energy and money conserved and the ledger
checks clean; a daylight-saving day settles 92 quarter hours; runs of one market context queue."""

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from service.cli.settle import settle_once
from service.domain.deliveries import MeterReading
from service.domain.intervals import Interval
from service.domain.markets import MarketContext
from service.soap.ns import TEMIX, q
from service.statement import build
from service.store import positions
from service.store.markets import add_market_context, list_market_contexts, set_balancing
from service.store.settlement import verify_conservation
from service.store.uow import UnitOfWork
from tests.support import messages as msg
from tests.support import quote_messages as qmsg

REP, PARTIES = "party-A", ("party-A", "party-B", "party-C")
CTX = "http://market.example.com/temix/ctx1"
T0 = datetime(2030, 1, 1, tzinfo=UTC)


def _market(engine, uri):
    with engine.connect() as conn:
        return {m.uri: m for m in list_market_contexts(conn)}[uri]


def _read(engine, market_context, readings):
    with UnitOfWork(engine) as uow:
        uow.deliveries.record(readings, "operator", T0, "test")
        uow.commit()


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize("seed", [3, 11])
def test_random_trades_and_readings_settle_in_any_order_to_delivery_and_conserve(service, engine, seed):
    rng = random.Random(seed)
    with engine.begin() as conn:
        set_balancing(conn, CTX, REP)
    for n in range(6):
        seller, buyer = rng.sample(PARTIES, 2)
        h, kw, price = rng.randrange(4), Decimal(rng.randrange(1, 40)) / 4, Decimal(rng.randrange(5, 30)) / 100
        start = _iso(T0 + timedelta(hours=h))
        offer = msg.product(side="sell", quantity=str(kw), price=str(price), start=start)
        assert service.call("/EiTender", msg.create_tender(f"t{n}", seller, buyer, (f"o{n}", offer))).code == "200"
        take = msg.product(side="buy", quantity=str(kw), price=str(price), start=start, state="transaction")
        assert service.call("/EiTransaction", msg.create_transaction(f"x{n}", buyer, seller, (f"x{n}", f"o{n}", take))).code == "200"
    quotes = [(f"rt{h}", msg.product(side="sell", quantity="1", price=str(Decimal(rng.randrange(1, 50)) / 100),
                                     start=_iso(T0 + timedelta(hours=h)), state="publication")) for h in range(4)]
    assert service.call("/EiQuote", qmsg.create_quote("rt", REP, CTX, *quotes), as_party=REP).code == "200"
    readings = {}
    for party in PARTIES[1:]:
        for h in range(4):
            if rng.random() < 0.8:
                readings[(party, h)] = (rng.random() < 0.3, Decimal(rng.randrange(0, 400)) / 10)
    _read(engine, CTX, [MeterReading(p, CTX, "NODE-1", T0 + timedelta(hours=h), T0 + timedelta(hours=h + 1), inj, kwh)
                        for (p, h), (inj, kwh) in readings.items()])
    market, after = _market(engine, CTX), T0 + timedelta(hours=5)
    hours = list(range(4))
    for _ in range(2):  # each hour on its own, in a random order, twice: the second round books nothing
        rng.shuffle(hours)
        booked = [settle_once(engine, market, Interval(T0 + timedelta(hours=h), T0 + timedelta(hours=h + 1)), after, "t")
                  for h in hours]
    assert all(run.transactions == () for run in booked)
    with UnitOfWork(engine) as uow:
        held = uow.settlements.position_energy(CTX, [Interval(T0 + timedelta(hours=h), T0 + timedelta(hours=h + 1)) for h in range(4)])
    for (party, h), (injection, kwh) in readings.items():
        assert held.get((party, "NODE-1", Interval(T0 + timedelta(hours=h), T0 + timedelta(hours=h + 1))), 0) == (kwh if injection else -kwh)
    window = Interval(T0, T0 + timedelta(hours=4))
    markets = {CTX: market}
    values = [sum((a.position_value for a in build(engine, party, window, markets).accounts), Decimal(0)) for party in PARTIES]
    assert sum(values) == 0  # money only moves between parties
    with engine.connect() as conn:
        assert positions.verify(conn) == []
        assert verify_conservation(conn) == []


BERLIN_CTX = "http://market.example.com/temix/berlin"


def test_a_spring_forward_day_settles_92_quarter_hours(service, engine):
    day = Interval(datetime(2030, 3, 30, 23, tzinfo=UTC), datetime(2030, 3, 31, 22, tzinfo=UTC))  # 23 hours
    with engine.begin() as conn:
        add_market_context(conn, MarketContext(BERLIN_CTX, timezone="Europe/Berlin", settlement_interval="PT15M",
                                               balancing_party_id=REP))
        for party in PARTIES:
            conn.exec_driver_sql("INSERT INTO party_market_context VALUES (%s, %s)", (party, BERLIN_CTX))
    offer = msg.product(side="sell", quantity="4", price="0.1", start=_iso(day.start), duration="PT23H",
                        market_context=BERLIN_CTX, currency=None)
    assert service.call("/EiTender", msg.create_tender("day", REP, "party-B", ("day", offer))).code == "200"
    take = msg.product(side="buy", quantity="4", price="0.1", start=_iso(day.start), duration="PT23H",
                       market_context=BERLIN_CTX, currency=None, state="transaction")
    assert service.call("/EiTransaction", msg.create_transaction("take", "party-B", REP, ("take", "day", take))).code == "200"
    price = msg.product(side="sell", quantity="1", price="0.2", start=_iso(day.start), duration="PT23H",
                        market_context=BERLIN_CTX, currency=None, state="publication")
    assert service.call("/EiQuote", qmsg.create_quote("rt", REP, BERLIN_CTX, ("rt", price)), as_party=REP).code == "200"
    quarters = [Interval(day.start + timedelta(minutes=15 * n), day.start + timedelta(minutes=15 * (n + 1))) for n in range(92)]
    _read(engine, BERLIN_CTX, [MeterReading("party-B", BERLIN_CTX, "NODE-1", i.start, i.end, False, Decimal("1.1")) for i in quarters])
    settled = settle_once(engine, _market(engine, BERLIN_CTX), day, day.end, "t")
    assert len(settled.intervals) == 92 and len(settled.transactions) == 92
    assert {(i.energy_kwh, i.rate_kw, i.value) for _, i in settled.transactions} == {(Decimal("-0.1"), Decimal("0.4"), Decimal("-0.02"))}
    (account,) = build(engine, "party-B", day, {BERLIN_CTX: _market(engine, BERLIN_CTX)}).accounts
    assert (account.lines["imbalance"].energy_kwh, account.lines["imbalance"].value) == (Decimal("-9.2"), Decimal("-1.84"))
    assert account.position_energy == Decimal("-101.2")  # 92 x 1.1 kWh delivered
    reply = service.call("/EiTransaction", msg.request_position("p", "party-B", _iso(day.start), "PT23H", "PT15M",
                                                                market_contexts=[BERLIN_CTX]))
    rates = {s.findtext(q(TEMIX, "rate")) for s in reply.payload.find(q(TEMIX, "position")).findall(q(TEMIX, "step"))}
    assert rates == {"-4.4"}


def test_a_market_context_without_balancing_party_settles_nothing(service, engine):
    from service.cli.common import CommandError

    with pytest.raises(CommandError, match="names no balancing party"):
        settle_once(engine, _market(engine, CTX), Interval(T0, T0 + timedelta(hours=1)), T0 + timedelta(hours=2), "t")


def test_intervals_whose_price_is_not_final_wait_for_the_next_run(service, engine):
    with engine.begin() as conn:
        set_balancing(conn, CTX, REP, "PT10M")
    market = _market(engine, CTX)
    settled = settle_once(engine, market, Interval(T0, T0 + timedelta(hours=2)), T0 + timedelta(hours=1, minutes=5), "t")
    assert (len(settled.intervals), settled.pending) == (0, 2)
    settled = settle_once(engine, market, Interval(T0, T0 + timedelta(hours=2)), T0 + timedelta(hours=1, minutes=10), "t")
    assert (len(settled.intervals), settled.pending) == (1, 1)


def test_two_runs_at_once_queue_on_the_market_context_lock_and_book_each_imbalance_once(service, engine):
    import threading
    import time

    with engine.begin() as conn:
        set_balancing(conn, CTX, REP)
    offer = msg.product(side="sell", quantity="2", price="0.1", start=_iso(T0))
    assert service.call("/EiTender", msg.create_tender("t", REP, "party-B", ("t", offer))).code == "200"
    take = msg.product(side="buy", quantity="2", price="0.1", start=_iso(T0), state="transaction")
    assert service.call("/EiTransaction", msg.create_transaction("x", "party-B", REP, ("x", "t", take))).code == "200"
    price = msg.product(side="sell", quantity="1", price="0.3", start=_iso(T0), state="publication")
    assert service.call("/EiQuote", qmsg.create_quote("q", REP, CTX, ("rt", price)), as_party=REP).code == "200"
    hour = Interval(T0, T0 + timedelta(hours=1))
    _read(engine, CTX, [MeterReading("party-B", CTX, "NODE-1", hour.start, hour.end, False, Decimal("2.5"))])
    market, runs = _market(engine, CTX), []
    holder = engine.connect()
    holder.exec_driver_sql("BEGIN")
    holder.exec_driver_sql("SELECT pg_advisory_xact_lock(hashtextextended('temix-settle:' || %s, 0))", (CTX,))
    threads = [threading.Thread(target=lambda: runs.append(settle_once(engine, market, hour, T0 + timedelta(hours=2), "t")))
               for _ in range(2)]
    for thread in threads:
        thread.start()
    waiting = 0
    for _ in range(10_000):  # both runs wait for the lock the holder has
        waiting = holder.exec_driver_sql(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted").scalar()
        if waiting == 2:
            break
        time.sleep(0.01)
    assert waiting == 2
    holder.exec_driver_sql("COMMIT")
    holder.close()
    for thread in threads:
        thread.join()
    assert sorted(len(run.transactions) for run in runs) == [0, 1]  # the second found nothing left
    with engine.connect() as conn:
        assert verify_conservation(conn) == [] and positions.verify(conn) == []
