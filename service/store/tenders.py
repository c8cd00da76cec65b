"""Tender rows <-> domain tenders."""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from service.domain.errors import DuplicateIdError, NotFoundError
from service.domain.intervals import Interval
from service.domain.options import OptionTerms, OptionType
from service.domain.tenders import Interface, Side, Tender, Terms
from service.store.narrowing import Narrowing, fetch_list, terms_columns
from service.store.tables import (
    distribution,
    distribution_recipient,
    party_group,
    party_market_context,
    party_service_area,
    tender,
)

UNIQUE_TENDER_ID = "uq_tender_party_tender_id"
COUNTERPARTY_KEY = "tender_counterparty_id_fkey"


@dataclass(frozen=True)
class StoredTender:
    pk: int
    tender: Tender


def new_row(party_id, request_id, counterparty_id, product, tender_id, product_xml) -> dict:
    return dict(
        terms_columns(product.terms, product.option),
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


def queue_tenders(uow, party_id: str, rows: list[dict]) -> None:
    """Insert the rows with the unit's commit. A tenderID the party already used, or an
    unregistered counterparty (the foreign key: no lookup of our own), refuses the request."""
    tender_ids = [row["tender_id"] for row in rows]
    uow.queue(
        uow.insert_sql("temix_insert_tender", "tender", rows),
        refusals={
            UNIQUE_TENDER_ID: lambda: DuplicateIdError(f"A tenderID of {tender_ids} is already used by {party_id!r}"),
            COUNTERPARTY_KEY: lambda: NotFoundError(f"Counterparty {rows[0]['counterparty_id']!r} is not registered"),
        },
    )


def insert_tenders(conn, rows: list[dict]) -> list[int]:
    """Insert all rows now; return the new rows' keys (a repeated tenderID is skipped)."""
    # executemany (one cached statement, sent as multi-row VALUES), not .values(rows), which
    # compiles a new statement for every request
    return [row.id for row in conn.execute(insert(tender).on_conflict_do_nothing().returning(tender.c.id), rows)]


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
            option=_option(row),
        ),
    )


def _option(row) -> OptionTerms | None:
    if row.option_type is None:
        return None
    return OptionTerms(OptionType(row.option_type), Side(row.holder_side), row.strike_per_kwh)


_LOCKED = tuple(c.name for c in tender.c if c.name != "product_xml")  # the rules need no product
TenderRow = namedtuple("TenderRow", _LOCKED)
# Rows are locked as the sort returns them: every request locks its tenders in tenderID
# order, in one statement, so concurrent requests queue and never deadlock.
_LOCK = (
    f"SELECT {', '.join(_LOCKED)} FROM tender WHERE party_id = %s AND tender_id = ANY(%s)"
    " ORDER BY tender_id FOR UPDATE"
)


def lock(uow, party_id: str, tender_ids) -> dict[str, StoredTender]:
    """The party's tenders with these IDs (those that exist), row-locked until commit:
    concurrent acceptances and cancellations queue here. One round trip for any number."""
    rows = uow.fetch(uow.sql("temix_lock_tenders", _LOCK, (party_id, list(tender_ids))))
    return {stored.tender.tender_id: stored for stored in (_to_domain(TenderRow(*row)) for row in rows)}


def addressed_to(uow, party_id: str, tender_id: str) -> bool:
    """Whether some other party's tender with this ID is addressed to ``party_id``."""
    query = "SELECT 1 FROM tender WHERE tender_id = %s AND counterparty_id = %s LIMIT 1"
    return bool(uow.fetch(uow.sql("temix_addressed_to", query, (tender_id, party_id))))


def cancel(uow, pks: list[int], now: datetime) -> None:
    uow.queue(uow.sql("temix_cancel_tender", "UPDATE tender SET cancelled_at = %s WHERE id = ANY(%s)", (now, pks)))


def take(uow, pk: int, quantity_kw) -> None:
    """Reduce the locked tender's remaining rate (its check constraint keeps it >= 0)."""
    uow.queue(uow.sql("temix_take", "UPDATE tender SET remaining_kw = remaining_kw - %s WHERE id = %s", (quantity_kw, pk)))


@dataclass(frozen=True)
class ShownTender:
    """What rendering a standing tender needs: no domain object, just the stored product."""

    tender_id: str
    remaining_kw: object
    rate_scale: str
    product_xml: bytes


# Standing at a time (twice %s): not cancelled, not filled (spelled as the standing indexes'
# predicate, so the planner uses them), not expired, and not started (trading closes when
# delivery starts).
_STANDING = (
    "t.cancelled_at IS NULL AND t.remaining_kw > 0"
    " AND (t.expires_at IS NULL OR t.expires_at > %s) AND t.start_at > %s"
)
# products as text: psycopg2 decodes bytea 2.5x slower (0.7 ms for 100 products); lxml
# serialised them as ASCII, or UTF-8 (C14N) before df18dfd
_SHOWN = "t.id, t.start_at, t.tender_id, t.remaining_kw, t.rate_scale, convert_from(t.product_xml, 'UTF8') AS product_xml"
# own; addressed to the party; distributed to it (a tender is never addressed or distributed
# to its own party, so the branches cannot overlap)
_BRANCHES = (
    ("FROM tender t WHERE t.party_id = %s", "t.counterparty_id"),
    ("FROM tender t WHERE t.counterparty_id = %s", "t.party_id"),
    (
        "FROM distribution_recipient r JOIN tender t ON t.distribution_pk = r.distribution_pk WHERE r.party_id = %s",
        "t.party_id",
    ),
)


def standing_visible_to(uow, party_id: str, now: datetime, narrow: Narrowing, limit: int) -> list[ShownTender]:
    """The first ``limit`` standing tenders and quotes the party may see (its own, those
    addressed to it, those distributed to it), by delivery start.

    One UNION ALL branch per way of seeing a tender, each read from its own index in list
    order and stopped at ``limit`` rows (an interval filter reads the window from the GiST
    index instead); then the first ``limit`` of the three. Planned anew each time: see
    ``narrowing.CUSTOM_PLAN``."""
    conditions, narrowed = narrow.sql("t", "tender_id")
    branches, params = [], []
    for source, other_side in _BRANCHES:
        with_counterparty, counterparty_params = narrow.counterparties(other_side)
        branches.append(
            f"(SELECT {_SHOWN} {source} AND {_STANDING}{with_counterparty}{conditions}"
            " ORDER BY t.start_at, t.id LIMIT %s)"
        )
        params += [party_id, now, now, *counterparty_params, *narrowed, limit]
    query = (
        "SELECT tender_id, remaining_kw, rate_scale, product_xml FROM ("
        + " UNION ALL ".join(branches)
        + ") shown ORDER BY start_at, id LIMIT %s"
    )
    params.append(limit)
    rows = fetch_list(uow, "temix_standing", query, params)
    return [ShownTender(tender_id, remaining, scale, xml.encode()) for tender_id, remaining, scale, xml in rows]


def recipients(
    conn, party_id: str, market_context: str, groups: tuple[str, ...] = (), service_areas: tuple[str, ...] = ()
) -> list[str]:
    """Parties enrolled in the market context, not the sender; if ``groups`` are given only
    those in one of them, and if ``service_areas`` are given only those in one of those."""
    enrolled = party_market_context.c
    query = select(enrolled.party_id).where(
        enrolled.market_context == market_context, enrolled.party_id != party_id
    )
    for members, column, names in (
        (party_group, party_group.c.group_name, groups),
        (party_service_area, party_service_area.c.service_area, service_areas),
    ):
        if names:
            query = query.where(enrolled.party_id.in_(select(members.c.party_id).where(column.in_(names))))
    return [row.party_id for row in conn.execute(query.order_by(enrolled.party_id))]


def new_distribution(conn, party_id: str, request_id: str, recipients: list[str]) -> int:
    """A distribution to these parties, its recipients written once (its tenders name it)."""
    pk = conn.execute(
        insert(distribution).values(party_id=party_id, request_id=request_id).returning(distribution.c.id)
    ).scalar_one()
    conn.execute(insert(distribution_recipient), [dict(distribution_pk=pk, party_id=p) for p in recipients])
    return pk


def distributed_to(uow, tender_pks, party_id: str) -> set[int]:
    """Which of these tenders were distributed to the party (one query for any number)."""
    query = (
        "SELECT t.id FROM tender t JOIN distribution_recipient r ON r.distribution_pk = t.distribution_pk"
        " WHERE r.party_id = %s AND t.id = ANY(%s)"
    )
    return {pk for (pk,) in uow.fetch(uow.sql("temix_distributed_to", query, (party_id, list(tender_pks))))}
