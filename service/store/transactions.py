"""Transaction rows: the acceptor's product as sent, both parties' views."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, or_, select
from sqlalchemy.dialects.postgresql import insert

from service.domain.intervals import Interval
from service.domain.tenders import Side
from service.store.tables import tender, transaction


@dataclass(frozen=True)
class StoredTransaction:
    transaction_id: str
    tender_id: str
    party_id: str  # the acceptor
    counterparty_id: str  # the tender's party
    side: Side  # the acceptor's side
    product_xml: bytes


@dataclass(frozen=True)
class TransactionFilter:
    counterparty_ids: tuple[str, ...] = ()
    market_contexts: tuple[str, ...] = ()
    transaction_ids: tuple[str, ...] = ()
    intervals: tuple[Interval, ...] = ()


def insert_transaction(conn, row: dict) -> bool:
    """False if the acceptor already used this transactionID."""
    return (
        conn.execute(
            insert(transaction).values(row).on_conflict_do_nothing().returning(transaction.c.id)
        ).first()
        is not None
    )


def involving(conn, party_id: str, narrow: TransactionFilter, limit: int) -> list[StoredTransaction]:
    """Transactions the party is a side of, never others'."""
    t = transaction.c
    mine = t.party_id == party_id
    theirs = t.counterparty_id == party_id
    if narrow.counterparty_ids:
        mine = and_(mine, t.counterparty_id.in_(narrow.counterparty_ids))
        theirs = and_(theirs, t.party_id.in_(narrow.counterparty_ids))
    conditions = [or_(mine, theirs)]
    if narrow.market_contexts:
        conditions.append(t.market_context.in_(narrow.market_contexts))
    if narrow.transaction_ids:
        conditions.append(t.transaction_id.in_(narrow.transaction_ids))
    if narrow.intervals:
        conditions.append(or_(*(and_(t.start_at < i.end, t.end_at > i.start) for i in narrow.intervals)))
    rows = conn.execute(
        select(t.transaction_id, tender.c.tender_id, t.party_id, t.counterparty_id, t.side, t.product_xml)
        .join(tender, tender.c.id == t.tender_pk)
        .where(*conditions)
        .order_by(t.start_at, t.id)
        .limit(limit)
    ).all()
    return [
        StoredTransaction(r.transaction_id, r.tender_id, r.party_id, r.counterparty_id, Side(r.side), bytes(r.product_xml))
        for r in rows
    ]
