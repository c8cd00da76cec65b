"""Many clients send crossing orders to one book at once (threads, the real database): every
fill is exact, nothing is filled twice or over-filled, no request deadlocks or fails."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from service.store import positions
from tests.support.reference_matcher import crossed_pairs
from tests.support.exchange import EXCHANGE, cancel, fills, open_exchange, order, remaining

PARTIES = ("party-A", "party-B", "party-C")


# four at once: as many as the test engine's pool holds, so every client is in the database
# at the same time (a client waiting for a pooled connection would be no race)
def test_concurrent_crossing_orders_fill_exactly_once(service, engine):
    open_exchange(engine)
    # one order first: the worker's market context cache is filled before the race
    assert order(service, "party-A", "warm-up", "sell", 1, "0.2").code == "200"
    jobs = []
    for n in range(48):
        party = PARTIES[n % 3]
        side = "sell" if n % 2 else "buy"
        price = ("0.09", "0.1", "0.11")[n % 3] if side == "buy" else ("0.08", "0.09", "0.1")[n % 3]
        jobs.append((party, f"r{n}", side, (n % 4) + 1, price))
    with ThreadPoolExecutor(max_workers=4) as pool:
        replies = list(pool.map(lambda job: order(service, *job), jobs))
        # cancels racing the matching of the same orders
        cancelled = list(pool.map(lambda job: cancel(service, job[0], job[1]), jobs[::5]))
    assert [reply.code for reply in replies] == ["200"] * len(jobs)
    assert {reply.code for reply in cancelled} <= {"200", "410"}
    made = fills(engine)
    assert made, "the orders crossed: something must have filled"
    left = remaining(engine)
    traded: dict[tuple[str, str], Decimal] = {}
    for party, tender_id, _, quantity, _ in made:
        traded[party, tender_id] = traded.get((party, tender_id), Decimal(0)) + quantity
    for party, tender_id, _, quantity, _ in jobs:
        assert left[party, tender_id] + traded.get((party, tender_id), 0) == quantity
    bought = sum(q for _, _, side, q, _ in made if side == "buy")
    sold = sum(q for _, _, side, q, _ in made if side == "sell")
    assert bought == sold
    with engine.connect() as conn:
        assert positions.verify(conn) == []
        standing = conn.exec_driver_sql(
            "SELECT party_id, side, price_per_kwh, remaining_kw, integral_only FROM tender"
            " WHERE cancelled_at IS NULL AND remaining_kw > 0"
        ).all()
        assert crossed_pairs([tuple(row) for row in standing]) == []
        assert conn.exec_driver_sql(
            "SELECT count(*) FROM position_change WHERE party_id = %s AND (rate_kw <> 0 OR value_rate <> 0)", (EXCHANGE,)
        ).scalar() == 0
