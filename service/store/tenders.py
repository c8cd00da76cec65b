"""Tender rows <-> domain tenders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert

from service.domain.intervals import Interval
from service.domain.tenders import Interface, Side, Tender, Terms
from service.store.narrowing import Narrowing, terms_columns
from service.store.tables import party_group, party_market_context, tender, tender_recipient


@dataclass(frozen=True)
class StoredTender:
    pk: int
    tender: Tender
    product_xml: bytes
    rate_scale: str


def new_row(party_id, request_id, counterparty_id, product, tender_id, product_xml) -> dict:
    return dict(
        terms_columns(product.terms),
        party_id=party_id,
        tender_id=tender_id,
        counterparty_id=counterparty_id,
        request_id=request_id,
        transactive_state=product.transactive_state,
        remaining_kw=product.terms.quantity_kw,
        integral_only=product.integral_only,
        expires_at=product.expires_at,
        rate_scale=product.rate_scale,
        product_xml=product_xml,
    )


def insert_tenders(conn, rows: list[dict]) -> list[int]:
    """Insert all rows; return the new rows' keys (a repeated tenderID is skipped)."""
    inserted = conn.execute(
        insert(tender).values(rows).on_conflict_do_nothing().returning(tender.c.id)
    ).all()
    return [row.id for row in inserted]


def _to_domain(row) -> StoredTender:
    terms = Terms(
        side=Side(row.side),
        interface=Interface(delivery_node=row.delivery_node, receipt_node=row.receipt_node),
        market_context=row.market_context,
        interval=Interval(row.start_at, row.end_at),
        price_per_kwh=row.price_per_kwh,
        quantity_kw=row.quantity_kw,
        currency=row.currency,
    )
    return StoredTender(
        pk=row.id,
        tender=Tender(
            party_id=row.party_id,
            tender_id=row.tender_id,
            terms=terms,
            remaining_kw=row.remaining_kw,
            is_quote=row.transactive_state == "indicationOfInterest",
            integral_only=row.integral_only,
            expires_at=row.expires_at,
            cancelled=row.cancelled_at is not None,
            counterparty_id=row.counterparty_id,
        ),
        product_xml=bytes(row.product_xml),
        rate_scale=row.rate_scale,
    )


def lock(conn, party_id: str, tender_id: str) -> StoredTender | None:
    """The tender, row-locked until commit: concurrent acceptances queue here."""
    row = conn.execute(
        select(tender)
        .where(tender.c.party_id == party_id, tender.c.tender_id == tender_id)
        .with_for_update()
    ).first()
    return _to_domain(row) if row else None


def addressed_to(conn, party_id: str, tender_id: str) -> bool:
    """Whether some other party's tender with this ID is addressed to ``party_id``."""
    return (
        conn.execute(
            select(tender.c.id).where(
                tender.c.tender_id == tender_id, tender.c.counterparty_id == party_id
            )
        ).first()
        is not None
    )


def cancel(conn, pks: list[int], now: datetime) -> None:
    conn.execute(update(tender).where(tender.c.id.in_(pks)).values(cancelled_at=now))


def take(conn, pk: int, quantity_kw) -> None:
    conn.execute(
        update(tender).where(tender.c.id == pk).values(remaining_kw=tender.c.remaining_kw - quantity_kw)
    )


def standing_visible_to(
    conn, party_id: str, now: datetime, narrow: Narrowing, limit: int
) -> list[StoredTender]:
    """Standing tenders and quotes the party may see: its own, those addressed to it and
    those distributed to it."""
    t = tender.c
    to_me = or_(
        t.counterparty_id == party_id,
        t.id.in_(select(tender_recipient.c.tender_pk).where(tender_recipient.c.party_id == party_id)),
    )
    conditions = [
        narrow.between(t.party_id == party_id, to_me, t.party_id, t.counterparty_id),
        t.cancelled_at.is_(None),
        t.remaining_kw > 0,
        or_(t.expires_at.is_(None), t.expires_at > now),
        *narrow.conditions(t, t.tender_id),
    ]
    rows = conn.execute(
        select(tender).where(*conditions).order_by(t.start_at, t.id).limit(limit)
    ).all()
    return [_to_domain(row) for row in rows]


def recipients(conn, party_id: str, market_context: str, groups: tuple[str, ...]) -> list[str]:
    """Parties enrolled in the market context (and in one of ``groups``, if any), not the sender."""
    query = select(party_market_context.c.party_id).where(
        party_market_context.c.market_context == market_context,
        party_market_context.c.party_id != party_id,
    )
    if groups:
        query = query.where(
            party_market_context.c.party_id.in_(
                select(party_group.c.party_id).where(party_group.c.group_name.in_(groups))
            )
        )
    return [row.party_id for row in conn.execute(query.order_by(party_market_context.c.party_id))]


def address(conn, tender_pks: list[int], party_ids: list[str]) -> None:
    if tender_pks and party_ids:
        conn.execute(
            insert(tender_recipient).values(
                [dict(tender_pk=pk, party_id=p) for pk in tender_pks for p in party_ids]
            )
        )


def is_recipient(conn, tender_pk: int, party_id: str) -> bool:
    return (
        conn.execute(
            select(tender_recipient.c.tender_pk).where(
                tender_recipient.c.tender_pk == tender_pk, tender_recipient.c.party_id == party_id
            )
        ).first()
        is not None
    )
