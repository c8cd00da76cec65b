"""The exchange against the reference matcher (tests/support/reference_matcher.py): random
sequences of orders, cancels and clock moves, each in a book of its own, sent through the
pipeline to the real database; the fills, remaining rates and positions must be the
reference's, no book crossed, every order's quantity conserved, the exchange flat."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from service.store import positions
from tests.support import messages as msg
from tests.support.exchange import EXCHANGE, cancel, open_exchange, order
from tests.support.reference_matcher import ReferenceBook, crossed_pairs

PARTIES = ("party-A", "party-B", "party-C")
BASE = datetime(2031, 1, 1, tzinfo=UTC)
_books = itertools.count()

# buys bid a step above where sells ask, so most orders meet something
orders = st.builds(
    lambda party, side, quantity, step, integral_only, expires: (
        "order", party, side, quantity, ("0.08", "0.09", "0.1", "0.11", "0.12")[step + (side == "buy")],
        integral_only, expires,
    ),
    st.sampled_from(PARTIES),
    st.sampled_from(("sell", "buy")),
    st.sampled_from(("2", "1", "2.5", "4", "6")),
    st.integers(0, 3),
    st.sampled_from((False, False, False, True)),  # integral-only now and then
    st.none() | st.integers(1, 8),
)
cancels = st.tuples(st.just("cancel"), st.integers(0, 30))
moves = st.tuples(st.just("advance"), st.integers(1, 4))
sequences = st.lists(st.one_of(orders, orders, orders, cancels, moves), min_size=4, max_size=24)


def _engine_fills(conn, start):
    query = (
        "SELECT ti.tender_id, tr.tender_id, x.quantity_kw, x.price_per_kwh FROM transaction x"
        " JOIN tender ti ON ti.id = split_part(x.transaction_id, '-', 2)::bigint"
        " JOIN tender tr ON tr.id = split_part(x.transaction_id, '-', 3)::bigint"
        " WHERE x.party_id = %s AND x.tender_pk = ti.id AND ti.start_at = %s ORDER BY ti.id, tr.id"
    )
    return [(i, r, q.normalize(), p.normalize()) for i, r, q, p in conn.exec_driver_sql(query, (EXCHANGE, start))]


def _engine_positions(conn, start):
    query = "SELECT party_id, sum(rate_kw), sum(value_rate) FROM position_change WHERE at = %s GROUP BY party_id"
    return {p: (r.normalize(), v.normalize()) for p, r, v in conn.exec_driver_sql(query, (start,)) if r or v}


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=sequences)
@example(steps=[  # partial fills across three prices, an integral-only order taken whole, a cancel
    ("order", "party-A", "sell", "4", "0.1", False, None),
    ("order", "party-B", "sell", "2", "0.09", False, 3),
    ("order", "party-C", "sell", "6", "0.08", True, None),
    ("order", "party-A", "buy", "5", "0.12", False, None),
    ("order", "party-B", "buy", "6", "0.12", False, None),
    ("cancel", 0),
    ("order", "party-C", "buy", "2.5", "0.11", True, None),
    ("order", "party-A", "sell", "2.5", "0.11", False, None),
])
@example(steps=[  # expiry, self-trade skipped, an incoming integral-only order that rests, then fills
    ("order", "party-A", "buy", "6", "0.1", True, None),
    ("order", "party-B", "sell", "2", "0.08", False, 2),
    ("order", "party-A", "sell", "2", "0.09", False, None),
    ("advance", 3),
    ("order", "party-C", "sell", "4", "0.1", False, None),
    ("order", "party-B", "sell", "6", "0.09", False, None),
    ("order", "party-C", "buy", "4", "0.12", False, None),
])
def test_the_engine_matches_as_the_reference_does(service, engine, clock, steps):
    open_exchange(engine)  # idempotent: the exchange of CTX
    book = next(_books)
    start = BASE + timedelta(hours=2 * book)
    start_text = start.strftime("%Y-%m-%dT%H:%M:%SZ")
    ref = ReferenceBook()
    base = clock.now
    sent = []
    for n, step in enumerate(steps):
        if step[0] == "order":
            _, party, side, quantity, price, integral_only, expires = step
            tender_id = f"b{book}-{n}"
            expires_text = (base + timedelta(minutes=ref.now + expires)).strftime("%Y-%m-%dT%H:%M:%SZ") if expires else None
            reply = order(service, party, tender_id, side, quantity, price, integral_only="true" if integral_only else None,
                          expires=expires_text, start=start_text)
            assert reply.code == "200", reply.description
            ref.submit(tender_id, party, side, price, quantity, bool(integral_only), ref.now + expires if expires else None)
            sent.append((party, tender_id))
        elif step[0] == "cancel" and sent:
            party, tender_id = sent[step[1] % len(sent)]
            standing = ref.cancel(party, tender_id)
            assert (cancel(service, party, tender_id).code == "200") == standing
        elif step[0] == "advance":
            ref.advance(step[1])
            clock.advance(minutes=step[1])
    with engine.connect() as conn:
        expected_fills = sorted(
            ((f.incoming, f.resting, f.quantity.normalize(), f.price.normalize()) for f in ref.fills),
            key=lambda f: (int(f[0].split("-")[1]), int(f[1].split("-")[1])),
        )
        assert _engine_fills(conn, start) == expected_fills
        rows = conn.exec_driver_sql(
            "SELECT tender_id, party_id, side, price_per_kwh, quantity_kw, remaining_kw, integral_only,"
            " cancelled_at IS NULL AND (expires_at IS NULL OR expires_at > %s) FROM tender WHERE start_at = %s",
            (clock.now, start),
        ).all()
        assert {r[0]: r[5].normalize() for r in rows} == {o.tender_id: o.remaining.normalize() for o in ref.orders}
        standing = [(r[1], r[2], r[3], r[5], r[6]) for r in rows if r[7] and r[5] > 0]
        assert crossed_pairs(standing) == []
        # conserved: each order's quantity is what remains and what it traded
        traded = dict(conn.exec_driver_sql(
            "SELECT t.tender_id, sum(x.quantity_kw) FROM transaction x JOIN tender t ON t.id = x.tender_pk"
            " WHERE t.start_at = %s GROUP BY t.tender_id", (start,)
        ).all())
        for r in rows:
            assert r[4] == r[5] + traded.get(r[0], 0)
        assert _engine_positions(conn, start) == ref.positions()
        assert EXCHANGE not in _engine_positions(conn, start + timedelta(hours=1))
        assert positions.verify(conn) == []
