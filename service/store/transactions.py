"""Transaction rows: the acceptor's product as sent, both parties' views."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, or_, select

from service.domain.errors import DuplicateIdError
from service.domain.intervals import Interval
from service.domain.tenders import Side
from service.store.narrowing import Narrowing, fetch_list, terms_columns
from service.store.tables import transaction

UNIQUE_TRANSACTION_ID = "uq_transaction_party_transaction_id"


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
        terms_columns(product.terms, product.option),
        party_id=party_id,
        transaction_id=transaction_id,
        tender_pk=tender_pk,
        counterparty_id=maker_id,
        request_id=request_id,
        rate_scale=product.rate_scale,
        product_xml=product_xml,
    )


def queue_transactions(uow, party_id: str, rows: list[dict]) -> None:
    """Insert the rows with the unit's commit; a transactionID the party already used refuses
    the request."""
    ids = [row["transaction_id"] for row in rows]
    named = f"transactionID {ids[0]!r}" if len(ids) == 1 else f"A transactionID of {ids}"
    uow.queue(
        uow.insert_sql("temix_insert_transaction", "transaction", rows),
        refusals={UNIQUE_TRANSACTION_ID: lambda: DuplicateIdError(f"{named} is already used by {party_id!r}")},
    )


# The party as acceptor; as the tender's party (never both: a party cannot accept its own tender).
_SIDES = (("x.party_id", "x.counterparty_id"), ("x.counterparty_id", "x.party_id"))
_LISTED = (  # the product as text: see tenders._SHOWN
    "x.id, x.start_at, x.transaction_id, x.tender_pk, x.party_id, x.counterparty_id, x.side,"
    " convert_from(x.product_xml, 'UTF8') AS product_xml"
)


def involving(uow, party_id: str, narrow: Narrowing, limit: int) -> list[StoredTransaction]:
    """The first ``limit`` transactions the party is a side of (never others'), by delivery start.

    One UNION ALL branch per side, each read from its own index in list order and stopped at
    ``limit`` rows (an interval filter reads the window from the GiST index instead); the
    tenderIDs are looked up for the rows returned only. Planned anew each time: see
    ``narrowing.CUSTOM_PLAN``."""
    conditions, narrowed = narrow.sql("x", "transaction_id")
    branches, params = [], []
    for own_side, other_side in _SIDES:
        with_counterparty, counterparty_params = narrow.counterparties(other_side)
        branches.append(
            f"(SELECT {_LISTED} FROM transaction x WHERE {own_side} = %s{with_counterparty}{conditions}"
            " ORDER BY x.start_at, x.id LIMIT %s)"
        )
        params += [party_id, *counterparty_params, *narrowed, limit]
    query = (
        "SELECT x.transaction_id, t.tender_id, x.party_id, x.counterparty_id, x.side, x.product_xml FROM ("
        + " UNION ALL ".join(branches)
        + " ORDER BY start_at, id LIMIT %s) x JOIN tender t ON t.id = x.tender_pk ORDER BY x.start_at, x.id"
    )
    params.append(limit)
    rows = fetch_list(uow, "temix_involving", query, params)
    return [
        StoredTransaction(transaction_id, tender_id, acceptor, maker, Side(side), xml.encode())
        for transaction_id, tender_id, acceptor, maker, side, xml in rows
    ]


@dataclass(frozen=True)
class StoredOption:
    """An option transaction, locked for exercise."""

    pk: int
    tender_pk: int
    acceptor_id: str
    maker_id: str
    acceptor_side: Side
    holder_side: Side
    option_type: str
    strike_per_kwh: object
    quantity_kw: object
    rate_scale: str
    market_context: str
    interval: Interval
    product_xml: bytes


def lock_option(conn, party_id: str, counterparty_id: str, transaction_id: str) -> StoredOption | None:
    """The option transaction between the two parties with this ID, row-locked: exercises of
    one option queue here, so together they never exceed it."""
    t = transaction.c
    pair = or_(
        and_(t.party_id == party_id, t.counterparty_id == counterparty_id),
        and_(t.party_id == counterparty_id, t.counterparty_id == party_id),
    )
    row = conn.execute(
        select(transaction)
        .where(t.transaction_id == transaction_id, pair, t.option_type.is_not(None))
        .with_for_update()
    ).first()
    if row is None:
        return None
    return StoredOption(
        row.id, row.tender_pk, row.party_id, row.counterparty_id, Side(row.side), Side(row.holder_side),
        row.option_type, row.strike_per_kwh, row.quantity_kw, row.rate_scale, row.market_context,
        Interval(row.start_at, row.end_at), bytes(row.product_xml),
    )


def exercises_of(conn, option_pk: int) -> list[tuple[Interval, object]]:
    t = transaction.c
    rows = conn.execute(select(t.start_at, t.end_at, t.quantity_kw).where(t.option_transaction_pk == option_pk))
    return [(Interval(r.start_at, r.end_at), r.quantity_kw) for r in rows]
