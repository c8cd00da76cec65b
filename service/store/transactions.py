"""Transaction rows: the acceptor's product as sent, both parties' views."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from service.domain.tenders import Side
from service.store.narrowing import Narrowing, terms_columns
from service.store.tables import tender, transaction


@dataclass(frozen=True)
class StoredTransaction:
    transaction_id: str
    tender_id: str
    party_id: str  # the acceptor
    counterparty_id: str  # the tender's party
    side: Side  # the acceptor's side
    product_xml: bytes


def new_row(party_id, request_id, maker_id, transaction_id, tender_pk, product, product_xml) -> dict:
    return dict(
        terms_columns(product.terms),
        party_id=party_id,
        transaction_id=transaction_id,
        tender_pk=tender_pk,
        counterparty_id=maker_id,
        request_id=request_id,
        rate_scale=product.rate_scale,
        product_xml=product_xml,
    )


def insert_transaction(conn, row: dict) -> bool:
    """False if the acceptor already used this transactionID."""
    return (
        conn.execute(
            insert(transaction).values(row).on_conflict_do_nothing().returning(transaction.c.id)
        ).first()
        is not None
    )


def involving(conn, party_id: str, narrow: Narrowing, limit: int) -> list[StoredTransaction]:
    """Transactions the party is a side of, never others'."""
    t = transaction.c
    conditions = [
        narrow.between(t.party_id == party_id, t.counterparty_id == party_id, t.party_id, t.counterparty_id),
        *narrow.conditions(t, t.transaction_id),
    ]
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
