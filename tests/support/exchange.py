"""Helpers for tests of the exchange: orders as EiCreateTender to a market context's
exchange, and what the database says of fills, resting orders and positions."""

from __future__ import annotations

import itertools
from collections import defaultdict
from decimal import Decimal

from sqlalchemy import text

from service.store.markets import set_exchange
from tests.support import messages as msg

CTX = msg.CTX
EXCHANGE = CTX + "#exchange"
_requests = itertools.count()


def open_exchange(engine, uri: str = CTX) -> str:
    with engine.begin() as conn:
        assert set_exchange(conn, uri, True)
    return uri + "#exchange"


def order(service, party, tender_id, side, quantity, price, integral_only=None, expires=None, state="tender",
          start=msg.START, node="NODE-1", counterparty=EXCHANGE):
    """Send one order; the reply."""
    product = msg.product(side=side, quantity=str(quantity), price=str(price), integral_only=integral_only,
                          expires=expires, state=state, start=start, node=node)
    payload = msg.create_tender(f"order-{next(_requests)}", party, counterparty, (tender_id, product))
    return service.call("/EiTender", payload, as_party=party)


def cancel(service, party, *tender_ids):
    return service.call("/EiTender", msg.cancel_tender(f"cancel-{next(_requests)}", party, *tender_ids), as_party=party)


def fills(engine) -> list[tuple]:
    """Every fill transaction: (party, tenderID, party's side, kW, price), by incoming order,
    then resting order (by arrival), the incoming order's side first."""
    query = (
        "SELECT x.counterparty_id, t.tender_id, CASE x.side WHEN 'buy' THEN 'sell' ELSE 'buy' END,"
        " x.quantity_kw, x.price_per_kwh FROM transaction x JOIN tender t ON t.id = x.tender_pk"
        " WHERE x.party_id LIKE '%%#exchange' ORDER BY split_part(x.transaction_id, '-', 2)::bigint,"
        " split_part(x.transaction_id, '-', 3)::bigint, x.tender_pk <> split_part(x.transaction_id, '-', 2)::bigint"
    )
    with engine.connect() as conn:
        return [(p, t, s, Decimal(q).normalize(), Decimal(pr).normalize()) for p, t, s, q, pr in conn.exec_driver_sql(query)]


def remaining(engine) -> dict[tuple[str, str], Decimal]:
    """(party, tenderID) -> remaining kW of every order addressed to an exchange."""
    query = "SELECT party_id, tender_id, remaining_kw FROM tender WHERE counterparty_id LIKE '%#exchange'"
    with engine.connect() as conn:
        return {(p, t): Decimal(r).normalize() for p, t, r in conn.execute(text(query))}


def net_positions(engine) -> dict[str, tuple[Decimal, Decimal]]:
    """party -> (sum of its signed rate changes at the interval start, value flow) over every key."""
    query = "SELECT party_id, rate_kw, value_rate FROM position_change WHERE at = %s"
    totals: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    with engine.connect() as conn:
        for party, rate, value in conn.exec_driver_sql(query, (msg.START,)):
            totals[party][0] += rate
            totals[party][1] += value
    return {party: (rate.normalize(), value.normalize()) for party, (rate, value) in totals.items()}
