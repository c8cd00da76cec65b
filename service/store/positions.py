"""Persisted positions: change points per (party, market context, product, interface).

Updated in the same database transaction as the transactions that change them, so the two
never disagree; ``verify`` recomputes every position from the transactions and compares.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from service.domain import positions as domain
from service.domain.intervals import Interval
from service.domain.positions import PositionChange, PositionKey
from service.store.tables import position_change


_KEY = ", ".join(c.name for c in position_change.primary_key.columns)
_ADD = (
    f" ON CONFLICT ({_KEY}) DO UPDATE SET rate_kw = position_change.rate_kw + EXCLUDED.rate_kw,"
    " value_rate = position_change.value_rate + EXCLUDED.value_rate"
)


@dataclass(frozen=True)
class PositionWindow:
    """One position's opening (in force at window start) and its change points inside, as
    columns: microseconds from the window start, rate changes, value flow changes."""

    key: PositionKey
    opening: tuple[Decimal, Decimal]
    window: Interval
    offsets: list[int]
    rates: list[Decimal]
    value_rates: list[Decimal]

    def profile(self, step: timedelta | None) -> list[domain.PositionStep]:
        return domain.profile_of_offsets(self.opening, self.offsets, self.rates, self.value_rates, self.window, step)

    @property
    def changes(self) -> list[PositionChange]:
        """The change points as PositionChange (what combining transport works on)."""
        start = self.window.start
        return [
            PositionChange(start + timedelta(microseconds=offset), rate, value_rate)
            for offset, rate, value_rate in zip(self.offsets, self.rates, self.value_rates)
        ]


_KEY_COLUMNS = "market_context, product_kind, receipt_node, delivery_node"
# The change points inside come as three arrays: times as microseconds from the window start
# (bigint), rates and value flows as text: psycopg2 would make a datetime and a Decimal per
# element, several times slower (numeric's text form is plain digits, split on commas).
_WINDOW_QUERY = (
    f"SELECT {_KEY_COLUMNS}, -sum(rate_kw), -sum(value_rate),"
    " array_agg(((extract(epoch FROM at) - extract(epoch FROM %s::timestamptz)) * 1000000)::bigint ORDER BY at)"
    " FILTER (WHERE at < %s), (array_agg(rate_kw ORDER BY at) FILTER (WHERE at < %s))::text,"
    " (array_agg(value_rate ORDER BY at) FILTER (WHERE at < %s))::text"
    f" FROM position_change WHERE party_id = %s AND at > %s{{filters}} GROUP BY {_KEY_COLUMNS} ORDER BY {_KEY_COLUMNS}"
)


def _decimals(array_text: str) -> list[Decimal]:
    return list(map(Decimal, array_text[1:-1].split(",")))


class PositionRepository:
    """``uow.positions``."""

    def __init__(self, uow):
        self._uow = uow

    def apply(self, changes: list[tuple[PositionKey, PositionChange]]) -> None:
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
            self._uow.queue(self._uow.insert_sql("temix_add_position", "position_change", rows, _ADD))

    def read_window(
        self,
        party_id: str,
        window: Interval,
        market_contexts: tuple[str, ...] = (),
        product_kind: str | None = None,
        interface: tuple[str, str] | None = None,
    ) -> list[PositionWindow]:
        """The party's positions in force during ``window``, in key order: per key one row, from
        one index-only scan of the covering index, with the change points inside as arrays.

        The opening is read forwards: every deal adds +rate at its start and -rate at its end to
        the same key, so a key's change points sum to zero, and what is in force at the window
        start (the sum of the changes at or before it) is minus the sum of those after it. These
        are the party's deals from the window on, bounded by how far ahead it trades; the sum
        backwards reads its whole history, which only grows.
        """
        narrowing = []  # (letter naming the prepared statement's shape, condition, parameters)
        if market_contexts:
            narrowing.append(("m", " AND market_context = ANY(%s)", [list(market_contexts)]))
        if product_kind:
            narrowing.append(("k", " AND product_kind = %s", [product_kind]))
        if interface:
            narrowing.append(("i", " AND receipt_node = %s AND delivery_node = %s", list(interface)))
        name = "temix_position_window_" + "".join(letter for letter, _, _ in narrowing)
        query = _WINDOW_QUERY.format(filters="".join(condition for _, condition, _ in narrowing))
        params = [window.start, *[window.end] * 3, party_id, window.start, *(p for _, _, values in narrowing for p in values)]
        windows = []
        for *key, rate, value_rate, offsets, rates, value_rates in self._uow.fetch(self._uow.sql(name, query, params)):
            opening = (rate, value_rate)
            rates = _decimals(rates) if offsets else []
            if opening == (0, 0) and not any(rates):
                continue  # nothing in force during the window
            value_rates = _decimals(value_rates) if offsets else []
            windows.append(PositionWindow(PositionKey(party_id, *key), opening, window, offsets or [], rates, value_rates))
        return windows


_DEALS = (  # options move no energy; their exercises do
    "SELECT party_id, counterparty_id, side, product_kind, receipt_node, delivery_node, market_context,"
    " start_at, end_at, quantity_kw, price_per_kwh FROM transaction WHERE option_type IS NULL"
)
_STORED = (
    "SELECT party_id, market_context, product_kind, receipt_node, delivery_node, at, rate_kw, value_rate"
    " FROM position_change ORDER BY at"
)


# An exchange is the counterparty of both sides of every fill at one price: its position is
# flat at every instant, so each of its change points, summed, is zero.
_EXCHANGE_NOT_FLAT = (
    "SELECT party_id, market_context, product_kind, receipt_node, delivery_node, at, rate_kw, value_rate"
    " FROM position_change WHERE party_id IN (SELECT market_context || '#exchange' FROM market_context)"
    " AND (rate_kw <> 0 OR value_rate <> 0) ORDER BY party_id, at"
)


def verify(conn) -> list[str]:
    """Recompute every position from the transactions; describe each disagreement, and each
    instant an exchange is not flat."""
    expected: dict[PositionKey, list[PositionChange]] = defaultdict(list)
    for row in conn.exec_driver_sql(_DEALS):
        sign = 1 if row.side == "sell" else -1
        interval = Interval(row.start_at, row.end_at)
        for party_id, signed in ((row.party_id, sign), (row.counterparty_id, -sign)):
            key = PositionKey(party_id, row.market_context, row.product_kind, row.receipt_node or "", row.delivery_node)
            expected[key].extend(domain.changes_for_deal(interval, signed * row.quantity_kw, row.price_per_kwh))
    stored: dict[PositionKey, list[PositionChange]] = defaultdict(list)
    for row in conn.exec_driver_sql(_STORED):
        key = PositionKey(row.party_id, row.market_context, row.product_kind, row.receipt_node, row.delivery_node)
        stored[key].append(PositionChange(row.at, row.rate_kw, row.value_rate))
    problems = []
    for key in sorted(set(expected) | set(stored)):
        want, have = domain.merge(expected[key]), domain.merge(stored[key])
        if want != have:
            problems.append(f"{key}: stored {len(have)} change points differ from the {len(want)} recomputed")
    for row in conn.exec_driver_sql(_EXCHANGE_NOT_FLAT):
        problems.append(
            f"exchange {row.party_id} is not flat at {row.at.isoformat()} in {row.market_context}"
            f" ({row.product_kind} {row.receipt_node or ''}{'->' if row.receipt_node else ''}{row.delivery_node}):"
            f" rate {row.rate_kw} kW, value {row.value_rate}"
        )
    return problems
