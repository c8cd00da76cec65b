"""Persisted positions: change points per (party, market context, product, interface).

Updated in the same database transaction as the transactions that change them, so the two
never disagree; ``verify`` recomputes every position from the transactions and compares.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select

from service.domain import positions as domain
from service.domain.intervals import Interval
from service.domain.positions import PositionChange
from service.store.tables import position_change, transaction


@dataclass(frozen=True, order=True)
class PositionKey:
    party_id: str
    market_context: str
    product_kind: str
    receipt_node: str  # '' for a one-node interface
    delivery_node: str


_KEY = ", ".join(c.name for c in position_change.primary_key.columns)
_ADD = (
    f" ON CONFLICT ({_KEY}) DO UPDATE SET rate_kw = position_change.rate_kw + EXCLUDED.rate_kw,"
    " value_rate = position_change.value_rate + EXCLUDED.value_rate"
)


def apply(uow, changes: list[tuple[PositionKey, PositionChange]]) -> None:
    """Add change points with the unit's commit, merged first (one row may be touched once
    per statement) and in key order, so concurrent writers lock rows in the same order and
    cannot deadlock here."""
    by_key: dict[PositionKey, list[PositionChange]] = defaultdict(list)
    for key, change in changes:
        by_key[key].append(change)
    rows = [
        dict(key.__dict__, at=change.at, rate_kw=change.rate_kw, value_rate=change.value_rate)
        for key in sorted(by_key)
        for change in domain.merge(by_key[key])
    ]
    if rows:
        uow.queue(uow.insert_sql("temix_add_position", "position_change", rows, _ADD))


@dataclass(frozen=True)
class PositionWindow:
    """One position's opening (in force at window start) and its change points inside."""

    key: PositionKey
    opening: tuple[Decimal, Decimal]
    changes: list[PositionChange]


def read_window(
    conn,
    party_id: str,
    window: Interval,
    market_contexts: tuple[str, ...] = (),
    product_kind: str | None = None,
    interface: tuple[str, str] | None = None,
) -> list[PositionWindow]:
    p = position_change.c
    conditions = [p.party_id == party_id, p.at < window.end]
    if market_contexts:
        conditions.append(p.market_context.in_(market_contexts))
    if product_kind:
        conditions.append(p.product_kind == product_kind)
    if interface:
        conditions.extend([p.receipt_node == interface[0], p.delivery_node == interface[1]])
    key_columns = [p.party_id, p.market_context, p.product_kind, p.receipt_node, p.delivery_node]
    before = p.at <= window.start
    openings = conn.execute(
        select(
            *key_columns,
            func.coalesce(func.sum(p.rate_kw).filter(before), 0),
            func.coalesce(func.sum(p.value_rate).filter(before), 0),
        )
        .where(*conditions)
        .group_by(*key_columns)
        .order_by(*key_columns)
    ).all()
    inside: dict[PositionKey, list[PositionChange]] = defaultdict(list)
    for row in conn.execute(
        select(*key_columns, p.at, p.rate_kw, p.value_rate)
        .where(*conditions, p.at > window.start)
        .order_by(*key_columns, p.at)
    ):
        inside[PositionKey(*row[:5])].append(PositionChange(row.at, row.rate_kw, row.value_rate))
    windows = []
    for row in openings:
        key = PositionKey(*row[:5])
        opening = (Decimal(row[5]), Decimal(row[6]))
        if opening == (0, 0) and not any(c.rate_kw for c in inside[key]):
            continue  # nothing in force during the window
        windows.append(PositionWindow(key, opening, inside[key]))
    return windows


def key_for(party_id: str, terms) -> PositionKey:
    return PositionKey(
        party_id=party_id,
        market_context=terms.market_context,
        product_kind=terms.kind.value,
        receipt_node=terms.interface.receipt_node or "",
        delivery_node=terms.interface.delivery_node,
    )


def changes_for_transaction(acceptor_id: str, maker_id: str, terms) -> list[tuple[PositionKey, PositionChange]]:
    """Both parties' change points: the acceptor on ``terms.side``, the maker opposite."""
    changes = []
    for party_id, side in ((acceptor_id, terms.side), (maker_id, terms.side.opposite)):
        for change in domain.changes_for_deal(terms.interval, side.sign * terms.quantity_kw, terms.price_per_kwh):
            changes.append((key_for(party_id, terms), change))
    return changes


def verify(conn) -> list[str]:
    """Recompute every position from the transactions; describe each disagreement."""
    t = transaction.c
    expected: dict[PositionKey, list[PositionChange]] = defaultdict(list)
    for row in conn.execute(
        select(t.party_id, t.counterparty_id, t.side, t.product_kind, t.receipt_node, t.delivery_node,
               t.market_context, t.start_at, t.end_at, t.quantity_kw, t.price_per_kwh)
        .where(t.option_type.is_(None))  # options move no energy; their exercises do
    ):
        sign = 1 if row.side == "sell" else -1
        interval = Interval(row.start_at, row.end_at)
        for party_id, signed in ((row.party_id, sign), (row.counterparty_id, -sign)):
            key = PositionKey(party_id, row.market_context, row.product_kind, row.receipt_node or "", row.delivery_node)
            expected[key].extend(domain.changes_for_deal(interval, signed * row.quantity_kw, row.price_per_kwh))
    stored: dict[PositionKey, list[PositionChange]] = defaultdict(list)
    p = position_change.c
    for row in conn.execute(select(position_change).order_by(p.at)):
        key = PositionKey(row.party_id, row.market_context, row.product_kind, row.receipt_node, row.delivery_node)
        stored[key].append(PositionChange(row.at, row.rate_kw, row.value_rate))
    problems = []
    for key in sorted(set(expected) | set(stored)):
        want, have = domain.merge(expected[key]), domain.merge(stored[key])
        if want != have:
            problems.append(f"{key}: stored {len(have)} change points differ from the {len(want)} recomputed")
    return problems
