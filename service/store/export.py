"""Rows for billing systems (``temix export``): transactions, positions and meter readings of
a window, read through a server-side cursor so the command holds one batch in memory
whatever the number of rows.

Each kind has fixed columns (``COLUMNS``: the names README's "Metered delivery" documents,
stable from release to release) and its window rule: a transaction or a position piece if
its interval overlaps [from, to), a reading if its interval starts in [from, to). Position
pieces are the constant pieces of each position's step function, cut at the window's edges.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, text

BATCH = 2_000

COLUMNS = {
    "transactions": (
        "transaction_id", "party_id", "counterparty_id", "side", "market_context", "product_kind",
        "receipt_node", "delivery_node", "interval_start", "interval_end", "quantity_kw", "price_per_kwh",
        "currency", "option_type", "holder_side", "strike_per_kwh", "request_id", "created_at",
    ),
    "positions": (
        "party_id", "market_context", "product_kind", "receipt_node", "delivery_node", "interval_start",
        "interval_end", "rate_kw", "value_per_hour",
    ),
    "deliveries": (
        "party_id", "market_context", "interface", "interval_start", "interval_end", "injection", "energy_kwh",
        "reported_by", "reported_at", "source",
    ),
}

_TRANSACTIONS = (
    "SELECT transaction_id, party_id, counterparty_id, side, market_context, product_kind, receipt_node,"
    " delivery_node, start_at, end_at, quantity_kw, price_per_kwh, currency, option_type, holder_side,"
    " strike_per_kwh, request_id, created_at FROM transaction"
    " WHERE start_at < :to AND end_at > :from {narrow} ORDER BY start_at, id"
)

_POSITION_KEY = "party_id, market_context, product_kind, receipt_node, delivery_node"
# The running sum of the change points is the position from each point to the next.
_POSITIONS = (
    f"SELECT {_POSITION_KEY}, greatest(at, :from), least(next_at, :to), rate_kw, value_rate FROM ("
    f" SELECT {_POSITION_KEY}, at, lead(at) OVER k AS next_at,"
    " sum(rate_kw) OVER k AS rate_kw, sum(value_rate) OVER k AS value_rate"
    " FROM position_change WHERE at < :to {narrow}"
    f" WINDOW k AS (PARTITION BY {_POSITION_KEY} ORDER BY at)) piece"
    " WHERE next_at > :from AND (rate_kw <> 0 OR value_rate <> 0)"
    f" ORDER BY {_POSITION_KEY}, at"
)

_DELIVERIES = (
    "SELECT party_id, market_context, interface, interval_start, interval_end, injection, energy_kwh,"
    " reported_by, reported_at, source FROM meter_reading"
    " WHERE interval_start >= :from AND interval_start < :to {narrow}"
    " ORDER BY interval_start, party_id, market_context, interface, injection"
)


@dataclass(frozen=True)
class ExportFilter:
    start: datetime
    end: datetime
    market_context: str | None = None
    party_id: str | None = None


def _narrowed(template: str, wanted: ExportFilter, party_clause: str) -> str:
    narrow = ""
    if wanted.market_context is not None:
        narrow += " AND market_context = :market_context"
    if wanted.party_id is not None:
        narrow += f" AND {party_clause}"
    return template.format(narrow=narrow)


def stream_rows(conn: Connection, kind: str, wanted: ExportFilter) -> Iterator[tuple]:
    """The rows of ``kind`` in the order of ``COLUMNS[kind]``, a batch at a time."""
    if kind == "transactions":
        query = _narrowed(_TRANSACTIONS, wanted, "(party_id = :party OR counterparty_id = :party)")
    elif kind == "positions":
        # the window's opening position sums every change point before it: the inner query
        # reads the whole history of the positions asked for, and the outer one cuts it
        query = _narrowed(_POSITIONS, wanted, "party_id = :party")
    else:
        query = _narrowed(_DELIVERIES, wanted, "party_id = :party")
    params = {"from": wanted.start, "to": wanted.end, "market_context": wanted.market_context, "party": wanted.party_id}
    result = conn.execution_options(stream_results=True, yield_per=BATCH).execute(text(query), params)
    for batch in result.partitions():
        yield from batch
