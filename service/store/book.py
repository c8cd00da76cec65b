"""The exchange's order books (``uow.book``): locking a book, reading its crossing orders.

A book is serialised by a transaction-scoped advisory lock on a hash of its key, taken
before anything of it is read, so matching in it is exactly-once and in arrival order
whatever the concurrency; books never wait for each other (only a request that enters
several takes their locks, always in one order). EiCancelTender takes the same locks
(``CANCEL_BOOK_LOCKS``) before it row-locks tenders addressed to an exchange, so a
cancellation and a fill of one order queue on the book, never on each other's rows.

The crossing orders are read from the book index (migration 0017) best first, in pages:
an order that does not cross reads one empty page. The book view (``levels``) reads the
same index, by its market context prefix (and node and interval when the request names them).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from service.domain.intervals import Interval
from service.domain.matching import BookKey, Order, PriceLevel
from service.domain.tenders import Side

PAGE = 50

# The book's lock key, as SQL over columns named as the tender's (one spelling for the
# matcher's parameters and the canceller's rows). A hash collision only serialises two
# books together.
_BOOK_HASH = (
    "hashtextextended(concat_ws(chr(31), {p}market_context, {p}product_kind, coalesce({p}receipt_node, ''),"
    " {p}delivery_node, extract(epoch FROM {p}start_at)::text, extract(epoch FROM {p}end_at)::text), 0)"
)
_LOCK_BOOKS = (
    "SELECT pg_advisory_xact_lock(h) FROM (SELECT DISTINCT "
    + _BOOK_HASH.format(p="u.")
    + " AS h FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::timestamptz[], %s::timestamptz[])"
    " AS u(market_context, product_kind, receipt_node, delivery_node, start_at, end_at) ORDER BY h) books"
)
# The books of a party's tenders addressed to an exchange, locked in the same order.
CANCEL_BOOK_LOCKS = (
    "SELECT pg_advisory_xact_lock(h) FROM (SELECT DISTINCT "
    + _BOOK_HASH.format(p="t.")
    + " AS h FROM tender t WHERE t.party_id = %s AND t.tender_id = ANY(%s)"
    " AND t.counterparty_id = (t.market_context || '#exchange') ORDER BY h) books"
)
_NEW_PKS = "SELECT nextval(pg_get_serial_sequence('tender', 'id')) FROM generate_series(1, %s)"
# The predicate of the book index, spelled as it is (the planner matches it by text).
_IN_BOOK = (
    "t.cancelled_at IS NULL AND t.remaining_kw > 0 AND t.transactive_state = 'tender'"
    " AND t.counterparty_id = (t.market_context || '#exchange')"
)
# Best first: a sell's lowest price, a buy's highest; then arrival. Each side's as its own
# statement, so the book index is read in its order (a buy's page is a backward range).
_CROSSING = (
    "SELECT t.id, t.party_id, t.price_per_kwh, t.remaining_kw, t.integral_only, t.rate_scale,"
    " convert_from(t.product_xml, 'UTF8') FROM tender t"
    " WHERE t.market_context = %s AND t.delivery_node = %s AND t.start_at = %s AND t.end_at = %s AND t.side = %s"
    f" AND {_IN_BOOK} AND t.price_per_kwh {{crosses}} %s{{after}}"
    " AND t.product_kind = %s AND coalesce(t.receipt_node, '') = %s AND coalesce(t.currency, '') = %s"
    " AND (t.expires_at IS NULL OR t.expires_at > %s) AND t.party_id <> %s"
    " ORDER BY t.price_per_kwh {order}, t.id LIMIT %s"
)
_SIDES = {  # the resting side: how a price crosses, the page after (price, id), the order
    Side.SELL: ("<=", " AND (t.price_per_kwh, t.id) > (%s, %s)", "ASC"),
    Side.BUY: (">=", " AND (t.price_per_kwh < %s OR (t.price_per_kwh = %s AND t.id > %s))", "DESC"),
}


# The price levels of a market context's open books: the resting orders summed per (book,
# side, price), each side's levels numbered best first, the first few of each kept; {narrow}
# is the filters the request names (one prepared statement per set of them, so each is
# planned with its own index conditions). Books whose delivery started are closed.
_LEVELS = (
    "SELECT product_kind, receipt_node, delivery_node, start_at, end_at, currency, side, price, rate_kw, orders"
    " FROM (SELECT t.product_kind, coalesce(t.receipt_node, '') AS receipt_node, t.delivery_node, t.start_at,"
    " t.end_at, coalesce(t.currency, '') AS currency, t.side, t.price_per_kwh AS price,"
    " sum(t.remaining_kw) AS rate_kw, count(*) AS orders,"
    " row_number() OVER (PARTITION BY t.product_kind, coalesce(t.receipt_node, ''), t.delivery_node, t.start_at,"
    " t.end_at, coalesce(t.currency, ''), t.side"
    " ORDER BY CASE WHEN t.side = 'sell' THEN t.price_per_kwh ELSE -t.price_per_kwh END) AS level"
    " FROM tender t"
    f" WHERE t.market_context = %s AND {_IN_BOOK} AND t.start_at > %s"
    " AND (t.expires_at IS NULL OR t.expires_at > %s){narrow}"
    " GROUP BY 1, 2, 3, 4, 5, 6, 7, 8) levels"
    " WHERE level <= %s ORDER BY start_at, end_at, delivery_node, receipt_node, product_kind, currency, side, level"
    " LIMIT %s"
)
_NARROW = {
    "node": " AND t.delivery_node = %s AND coalesce(t.receipt_node, '') = %s",
    "kind": " AND t.product_kind = %s",
    "window": " AND t.start_at < %s AND t.end_at > %s",
}


@dataclass(frozen=True)
class RestingOrder(Order):
    """A resting order as read from its book, with what its fill transaction is made from."""

    rate_scale: str = "k"
    stored_form: bytes = b""


class BookRepository:
    """``uow.book``."""

    def __init__(self, uow):
        self._uow = uow

    def enter(self, books: list[BookKey], count: int) -> list[int]:
        """Lock these books until commit (waiting for whoever holds them) and reserve ``count``
        tender ids, in arrival order: one round trip."""
        uow = self._uow
        if books:
            columns = list(zip(*[
                (b.market_context, b.product_kind, b.receipt_node or None, b.delivery_node, b.start, b.end) for b in books
            ]))
            uow.queue(uow.sql("temix_lock_books", _LOCK_BOOKS, [list(column) for column in columns]))
        return [pk for (pk,) in uow.fetch(uow.sql("temix_new_tender_pks", _NEW_PKS, (count,)))]

    def crossing(self, book: BookKey, incoming: Order, now: datetime) -> Iterator[RestingOrder]:
        """The other side's standing orders that ``incoming`` crosses, best first, not its own
        party's; fetched a page at a time as the matcher reads on (writes queued before are
        sent first, so a request's earlier fills are seen)."""
        uow = self._uow
        side = incoming.side.opposite
        crosses, after_page, order = _SIDES[side]
        head = [book.market_context, book.delivery_node, book.start, book.end, side.value, incoming.price_per_kwh]
        tail = [book.product_kind, book.receipt_node, book.currency, now, incoming.party_id, PAGE]
        after: list = []
        while True:
            page = "next" if after else "first"
            query = _CROSSING.format(crosses=crosses, after=after_page if after else "", order=order)
            rows = uow.fetch(uow.sql(f"temix_book_{side.value}_{page}", query, head + after + tail))
            for pk, party_id, price, remaining, integral_only, scale, form in rows:
                yield RestingOrder(pk, party_id, side, price, remaining, integral_only, scale, form.encode())
            if len(rows) < PAGE:
                return
            last_price, last_pk = rows[-1][2], rows[-1][0]
            after = [last_price, last_pk] if side is Side.SELL else [last_price, last_price, last_pk]

    def levels(
        self,
        market_context: str,
        now: datetime,
        depth: int,
        limit: int,
        product_kind: str | None = None,
        interface: tuple[str, str] | None = None,
        window: Interval | None = None,
    ) -> list[tuple[BookKey, Side, PriceLevel]]:
        """The best ``depth`` price levels of each side of each open book of the market
        context, narrowed by product kind, interface (receipt node, '' for one node; delivery
        node) and a window the delivery interval overlaps; by book, then side, best first;
        at most ``limit`` levels."""
        uow = self._uow
        narrow, params = [], [market_context, now, now]
        for name, given, values in (
            ("node", interface, interface and interface[::-1]),
            ("kind", product_kind, (product_kind,)),
            ("window", window, window and (window.end, window.start)),
        ):
            if given is not None:
                narrow.append(name)
                params += values
        query = _LEVELS.format(narrow="".join(_NARROW[name] for name in narrow))
        name = "_".join(["temix_book_levels", *narrow])
        rows = uow.fetch(uow.sql(name, query, params + [depth, limit]))
        return [
            (
                BookKey(market_context, kind, receipt_node, delivery_node, start_at, end_at, currency),
                Side(side),
                PriceLevel(price, rate_kw, orders),
            )
            for kind, receipt_node, delivery_node, start_at, end_at, currency, side, price, rate_kw, orders in rows
        ]
