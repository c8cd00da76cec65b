"""The quote repository (``uow.quotes``): quotes, who they reach, and published trade prices.

PostgreSQL SQL through the unit of work: writes whose result is not needed are queued (sent
with the commit), reads fetched. A quote addressed to a market context names a distribution
(``uow.tenders.new_distribution``), whose recipients are kept once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from service.domain.commands import Narrowing
from service.domain.errors import DuplicateIdError, NotFoundError
from service.domain.quotes import TRADE_PREFIX, Quote, ShownQuote, TradeKey, Traded, TradePrice, trade_number
from service.store.narrowing import fetch_list, first_per_branch, narrowing_sql

UNIQUE_QUOTE_ID = "uq_quote_party_quote_id"
SUBSCRIBER_KEY = "quote_subscriber_id_fkey"


@dataclass(frozen=True)
class StoredQuote:
    pk: int
    quote_id: str
    subscriber_id: str | None  # None: addressed to its market context
    market_context: str
    cancelled: bool
    expires_at: datetime | None
    end_at: datetime


# Standing at a time (twice %s): not cancelled, not expired, delivery of its products not all over.
_STANDING = "q.cancelled_at IS NULL AND (q.expires_at IS NULL OR q.expires_at > %s) AND q.end_at > %s"
_SHOWN = "q.id, q.start_at, q.quote_id, convert_from(q.product_xml, 'UTF8') AS product_xml"
# The publisher's quotes a requestor sees: addressed to it; distributed to it.
_BRANCHES = (
    "FROM quote q WHERE q.party_id = %s AND q.subscriber_id = %s",
    "FROM distribution_recipient r JOIN quote q ON q.distribution_pk = r.distribution_pk"
    " WHERE q.party_id = %s AND r.party_id = %s",
)
_OWN = "FROM quote q WHERE q.party_id = %s AND q.party_id = %s"
_PUBLISHER = (
    "SELECT EXISTS (SELECT 1 FROM party WHERE party_id = %s),"
    " EXISTS (SELECT 1 FROM party_market_context WHERE party_id = %s AND market_context = %s)"
)
_PUBLISH = (
    " ON CONFLICT ON CONSTRAINT uq_trade_price_key DO UPDATE SET"
    " last_price_per_kwh = EXCLUDED.last_price_per_kwh,"
    " energy_kwh = trade_price.energy_kwh + EXCLUDED.energy_kwh,"
    " value = trade_price.value + EXCLUDED.value,"
    " trades = trade_price.trades + EXCLUDED.trades,"
    " updated_at = EXCLUDED.updated_at"
)
_TRADE_COLUMNS = (
    "t.id, t.market_context, t.product_kind, t.receipt_node, t.delivery_node, t.start_at, t.end_at, t.currency,"
    " t.last_price_per_kwh, t.energy_kwh, t.value, t.trades"
)


class QuoteRepository:
    """``uow.quotes``."""

    def __init__(self, uow):
        self._uow = uow

    def add(self, party_id: str, request_id: str, subscriber_id: str | None, distribution_pk: int | None, quotes) -> None:
        """Insert the quotes with the unit's commit. A quoteID the party already used, or an
        unregistered subscriber (the foreign key), refuses the request."""
        uow = self._uow
        rows = [_row(party_id, request_id, subscriber_id, distribution_pk, quote) for quote in quotes]
        quote_ids = [row["quote_id"] for row in rows]
        uow.queue(
            uow.insert_sql("temix_insert_quote", "quote", rows),
            refusals={
                UNIQUE_QUOTE_ID: lambda: DuplicateIdError(f"A quoteID of {quote_ids} is already used by {party_id!r}"),
                SUBSCRIBER_KEY: lambda: NotFoundError(f"Subscriber {subscriber_id!r} is not a registered party or market context"),
            },
        )

    def enrolled(self, party_id: str, market_contexts) -> set[str]:
        """Which of these market contexts the party is enrolled in."""
        query = "SELECT market_context FROM party_market_context WHERE party_id = %s AND market_context = ANY(%s)"
        rows = self._uow.fetch(self._uow.sql("temix_enrolled_in", query, (party_id, list(market_contexts))))
        return {market_context for (market_context,) in rows}

    def publisher(self, requestor_id: str, publisher_id: str) -> tuple[bool, bool]:
        """(whether the publisher is a registered party, whether the requestor is enrolled in a
        market context of that URI), in one round trip."""
        params = (publisher_id, requestor_id, publisher_id)
        (is_party, enrolled), = self._uow.fetch(self._uow.sql("temix_quote_publisher", _PUBLISHER, params))
        return is_party, enrolled

    def lock(self, party_id: str, quote_ids) -> dict[str, StoredQuote]:
        """The party's quotes with these IDs (those that exist), row-locked until commit."""
        query = (
            "SELECT id, quote_id, subscriber_id, market_context, cancelled_at IS NOT NULL, expires_at, end_at FROM quote"
            " WHERE party_id = %s AND quote_id = ANY(%s) ORDER BY quote_id FOR UPDATE"
        )
        rows = self._uow.fetch(self._uow.sql("temix_lock_quotes", query, (party_id, list(quote_ids))))
        return {row[1]: StoredQuote(*row) for row in rows}

    def exists(self, party_id: str, quote_id: str) -> bool:
        """Whether the party published a quote with this ID."""
        query = "SELECT 1 FROM quote WHERE party_id = %s AND quote_id = %s"
        return bool(self._uow.fetch(self._uow.sql("temix_quote_exists", query, (party_id, quote_id))))

    def cancel(self, pks: list[int], now: datetime) -> None:
        query = "UPDATE quote SET cancelled_at = %s WHERE id = ANY(%s)"
        self._uow.queue(self._uow.sql("temix_cancel_quote", query, (now, pks)))

    def standing_visible_to(
        self, party_id: str, publisher_id: str, now: datetime, narrow: Narrowing, limit: int
    ) -> list[ShownQuote]:
        """The first ``limit`` standing quotes of the publisher the party may see (all its own
        if it is the publisher; else those addressed or distributed to it), by delivery start.
        One UNION ALL branch per way of seeing a quote, as EiRequestTender's list."""
        sources = (_OWN,) if party_id == publisher_id else _BRANCHES
        branches = [(f"SELECT {_SHOWN} {source} AND {_STANDING}", [publisher_id, party_id, now, now], "q.party_id")
                    for source in sources]
        union, params = first_per_branch(branches, replace(narrow, counterparty_ids=()), "q", "quote_id", limit)
        query = f"SELECT quote_id, product_xml FROM ({union}) shown ORDER BY start_at, id LIMIT %s"
        params.append(limit)
        rows = fetch_list(self._uow, "temix_quotes", query, params)
        return [ShownQuote(quote_id, xml.encode()) for quote_id, xml in rows]

    # ------------------------------------------------------------ published trade prices

    def publish(self, updates: list[tuple[TradeKey, Traded]], now: datetime) -> None:
        """Add a request's trades to the published prices, with the unit's commit: one upsert
        statement, its keys in key order (concurrent requests lock them in one order)."""
        if not updates:
            return
        rows = [
            dict(
                market_context=key.market_context, product_kind=key.product_kind, receipt_node=key.receipt_node,
                delivery_node=key.delivery_node, start_at=key.start, end_at=key.end, currency=key.currency,
                last_price_per_kwh=traded.last_price_per_kwh, energy_kwh=traded.energy_kwh, value=traded.value,
                trades=traded.trades, updated_at=now,
            )
            for key, traded in updates
        ]
        self._uow.queue(self._uow.insert_sql("temix_publish", "trade_price", rows, _PUBLISH))

    def trade_prices(self, market_context: str, narrow: Narrowing, limit: int) -> list[TradePrice]:
        """The first ``limit`` published trade prices of a market context, latest delivery first."""
        conditions, params = narrowing_sql(replace(narrow, ids=(), counterparty_ids=()), "t", "id")
        if narrow.ids:
            numbers = [n for n in map(trade_number, narrow.ids) if n is not None]
            conditions += " AND t.id = ANY(%s)"
            params.append(numbers)
        query = (
            f"SELECT {_TRADE_COLUMNS} FROM trade_price t WHERE t.market_context = %s{conditions}"
            " ORDER BY t.start_at DESC, t.id DESC LIMIT %s"
        )
        rows = fetch_list(self._uow, "temix_trade_prices", query, [market_context, *params, limit])
        return [
            TradePrice(
                f"{TRADE_PREFIX}{pk}",
                TradeKey(market_context_, kind, receipt, delivery, start, end, currency),
                Traded(last, energy, value, trades),
            )
            for pk, market_context_, kind, receipt, delivery, start, end, currency, last, energy, value, trades in rows
        ]


def _row(party_id: str, request_id: str, subscriber_id, distribution_pk, quote: Quote) -> dict:
    span = quote.span
    return dict(
        party_id=party_id,
        quote_id=quote.quote_id,
        subscriber_id=subscriber_id,
        distribution_pk=distribution_pk,
        request_id=request_id,
        market_context=quote.market_context,
        start_at=span.start,
        end_at=span.end,
        expires_at=quote.expires_at,
        product_xml=b"".join(quote.stored_forms),
    )
