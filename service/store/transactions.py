"""The transaction repository (``uow.transactions``): the acceptor's product as sent, both
parties' views, option transactions and their exercises. PostgreSQL SQL through the unit of
work."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from service.domain.commands import Narrowing
from service.domain.errors import DuplicateIdError
from service.domain.intervals import Interval
from service.domain.products import Product
from service.domain.tenders import Interface, Side, Terms
from service.store.narrowing import fetch_list, first_per_branch, terms_columns

UNIQUE_TRANSACTION_ID = "uq_transaction_party_transaction_id"


@dataclass(frozen=True)
class NewTransaction:
    """A transaction a request makes: of a tender (or the tender of an exercised option)."""

    transaction_id: str
    tender_pk: int
    product: Product
    stored_form: bytes
    option_pk: int | None = None  # the option transaction an exercise calls


@dataclass(frozen=True)
class StoredTransaction:
    transaction_id: str
    tender_id: str
    party_id: str  # the acceptor
    counterparty_id: str  # the tender's party
    side: Side  # the acceptor's side
    stored_form: bytes


@dataclass(frozen=True)
class StoredOption:
    """An option transaction, locked for exercise. ``terms.price_per_kwh`` is its premium."""

    pk: int
    tender_pk: int
    acceptor_id: str
    maker_id: str
    acceptor_side: Side
    holder_side: Side
    option_type: str
    strike_per_kwh: Decimal
    rate_scale: str
    terms: Terms
    stored_form: bytes


# The party as acceptor; as the tender's party (never both: a party cannot accept its own tender).
_SIDES = (("x.party_id", "x.counterparty_id"), ("x.counterparty_id", "x.party_id"))
_LISTED = (  # the product as text: see tenders._SHOWN
    "x.id, x.start_at, x.transaction_id, x.tender_pk, x.party_id, x.counterparty_id, x.side,"
    " convert_from(x.product_xml, 'UTF8') AS product_xml"
)
# Exercises of one option queue on its row lock, so together they never exceed it.
_LOCK_OPTION = (
    "SELECT id, tender_pk, party_id, counterparty_id, side, holder_side, option_type, strike_per_kwh,"
    " rate_scale, receipt_node, delivery_node, market_context, start_at, end_at, price_per_kwh, quantity_kw,"
    " currency, product_xml FROM transaction"
    " WHERE transaction_id = %s AND ((party_id = %s AND counterparty_id = %s) OR (party_id = %s AND counterparty_id = %s))"
    " AND option_type IS NOT NULL FOR UPDATE"
)


class TransactionRepository:
    """``uow.transactions``."""

    def __init__(self, uow):
        self._uow = uow

    def add(self, party_id: str, request_id: str, counterparty_id: str, made: list[NewTransaction]) -> None:
        """Insert the transactions with the unit's commit; a transactionID the party already
        used refuses the request."""
        uow = self._uow
        rows = [
            dict(
                terms_columns(new.product.terms, new.product.option),
                party_id=party_id,
                transaction_id=new.transaction_id,
                tender_pk=new.tender_pk,
                counterparty_id=counterparty_id,
                request_id=request_id,
                rate_scale=new.product.rate_scale,
                product_xml=new.stored_form,
                **({"option_transaction_pk": new.option_pk} if new.option_pk is not None else {}),
            )
            for new in made
        ]
        ids = [row["transaction_id"] for row in rows]
        named = f"transactionID {ids[0]!r}" if len(ids) == 1 else f"A transactionID of {ids}"
        uow.queue(
            uow.insert_sql("temix_insert_transaction", "transaction", rows),
            refusals={UNIQUE_TRANSACTION_ID: lambda: DuplicateIdError(f"{named} is already used by {party_id!r}")},
        )

    def involving(self, party_id: str, narrow: Narrowing, limit: int) -> list[StoredTransaction]:
        """The first ``limit`` transactions the party is a side of (never others'), by delivery start.

        One UNION ALL branch per side, each read from its own index in list order and stopped at
        ``limit`` rows (an interval filter reads the window from the GiST index instead); the
        tenderIDs are looked up for the rows returned only. Planned anew each time: see
        ``narrowing.CUSTOM_PLAN``."""
        branches = [
            (f"SELECT {_LISTED} FROM transaction x WHERE {own} = %s", [party_id], other) for own, other in _SIDES
        ]
        union, params = first_per_branch(branches, narrow, "x", "transaction_id", limit)
        query = (
            "SELECT x.transaction_id, t.tender_id, x.party_id, x.counterparty_id, x.side, x.product_xml FROM ("
            f"{union} ORDER BY start_at, id LIMIT %s) x JOIN tender t ON t.id = x.tender_pk ORDER BY x.start_at, x.id"
        )
        params.append(limit)
        rows = fetch_list(self._uow, "temix_involving", query, params)
        return [
            StoredTransaction(transaction_id, tender_id, acceptor, maker, Side(side), xml.encode())
            for transaction_id, tender_id, acceptor, maker, side, xml in rows
        ]

    def lock_option(self, party_id: str, counterparty_id: str, transaction_id: str) -> StoredOption | None:
        """The option transaction between the two parties with this ID, row-locked."""
        params = (transaction_id, party_id, counterparty_id, counterparty_id, party_id)
        rows = self._uow.fetch(self._uow.sql("temix_lock_option", _LOCK_OPTION, params))
        if not rows:
            return None
        (pk, tender_pk, acceptor, maker, side, holder_side, option_type, strike, rate_scale, receipt, delivery,
         market_context, start_at, end_at, price, quantity, currency, product_xml) = rows[0]
        terms = Terms(
            side=Side(side),
            interface=Interface(delivery_node=delivery, receipt_node=receipt),
            market_context=market_context,
            interval=Interval(start_at, end_at),
            price_per_kwh=price,
            quantity_kw=quantity,
            currency=currency,
        )
        return StoredOption(
            pk, tender_pk, acceptor, maker, Side(side), Side(holder_side), option_type, strike, rate_scale,
            terms, bytes(product_xml),
        )

    def exercises_of(self, option_pk: int) -> list[tuple[Interval, Decimal]]:
        query = "SELECT start_at, end_at, quantity_kw FROM transaction WHERE option_transaction_pk = %s"
        rows = self._uow.fetch(self._uow.sql("temix_exercises_of", query, (option_pk,)))
        return [(Interval(start_at, end_at), quantity_kw) for start_at, end_at, quantity_kw in rows]
