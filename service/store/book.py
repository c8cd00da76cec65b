"""The exchange's order books (``uow.book``): locking a book, reading its crossing orders.

A book is serialised by a transaction-scoped advisory lock on a hash of its key, taken
before anything of it is read, so matching in it is exactly-once and in arrival order
whatever the concurrency; books never wait for each other (only a request that enters
several takes their locks, always in one order). EiCancelTender takes the same locks
(``CANCEL_BOOK_LOCKS``) before it row-locks tenders addressed to an exchange, so a
cancellation and a fill of one order queue on the book, never on each other's rows.

The crossing orders are read from the book index (migration 0017) best first, in pages:
an order that does not cross reads one empty page. The book view (``levels``) walks the
same index: one probe per book side and per price level shown, and the orders at those levels.
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


# The book view walks the book index instead of reading whole books: the (node, interval,
# side) prefixes of the market context's open books one index probe each (a loose index
# scan), then each prefix's distinct prices best first, one probe each, up to the depth; then
# the orders at each price found, summed per product. A prefix holding books of several
# products (energy and transport delivered at one node and hour, two currencies) shares its
# depth among them. The filters the request names are part of the text: one prepared
# statement per set of them.
_HOUR = "SELECT t.delivery_node, t.start_at, t.end_at FROM tender t WHERE t.market_context = %s AND " + _IN_BOOK
# The next (node, interval) after h's: a later end at its start, a later start at its node,
# or (when no node is named) the next node; each a range on the index's own columns (a row
# comparison would make PostgreSQL scan from the node's first entry).
_PREFIXES = (
    f"WITH RECURSIVE hours AS (({_HOUR}{{first}} ORDER BY 1, 2, 3 LIMIT 1)"
    " UNION ALL SELECT n.* FROM hours h CROSS JOIN LATERAL ("
    f"({_HOUR} AND t.delivery_node = h.delivery_node AND t.start_at = h.start_at AND t.end_at > h.end_at"
    " ORDER BY 3 LIMIT 1)"
    f" UNION ALL ({_HOUR} AND t.delivery_node = h.delivery_node AND t.start_at > h.start_at ORDER BY 2, 3 LIMIT 1)"
    "{next_node} LIMIT 1) n{stop}),"
    " sides AS (SELECT h.delivery_node, h.start_at, h.end_at, v.side FROM hours h"
    " CROSS JOIN (VALUES ('buy'), ('sell')) AS v(side))"
)
_NEXT_NODE = f" UNION ALL ({_HOUR} AND t.delivery_node > h.delivery_node ORDER BY 1, 2, 3 LIMIT 1)"
_AT = (
    "t.market_context = %s AND t.delivery_node = {w}.delivery_node AND t.start_at = {w}.start_at"
    f" AND t.end_at = {{w}}.end_at AND t.side = {{w}}.side AND {_IN_BOOK}"
    " AND (t.expires_at IS NULL OR t.expires_at > %s){products}"
)
_PRICE = (
    "CASE WHEN {w}.side = 'sell' THEN (SELECT min(t.price_per_kwh) FROM tender t WHERE {at}{beyond_sell})"
    " ELSE (SELECT max(t.price_per_kwh) FROM tender t WHERE {at}{beyond_buy}) END"
)
_LEVELS = (
    "{prefixes}, walk AS (SELECT s.delivery_node, s.start_at, s.end_at, s.side, 1 AS level, {best} AS price"
    " FROM sides s WHERE s.start_at > %s{within}"
    " UNION ALL SELECT w.delivery_node, w.start_at, w.end_at, w.side, w.level + 1, {next}"
    " FROM walk w WHERE w.price IS NOT NULL AND w.level < %s)"
    " SELECT a.product_kind, a.receipt_node, w.delivery_node, w.start_at, w.end_at, a.currency, w.side, w.price,"
    " a.rate_kw, a.orders FROM walk w CROSS JOIN LATERAL (SELECT t.product_kind,"
    " coalesce(t.receipt_node, '') AS receipt_node, coalesce(t.currency, '') AS currency,"
    " sum(t.remaining_kw) AS rate_kw, count(*) AS orders FROM tender t WHERE {at_w} AND t.price_per_kwh = w.price"
    " GROUP BY 1, 2, 3) a WHERE w.price IS NOT NULL"
    " ORDER BY w.start_at, w.end_at, w.delivery_node, a.receipt_node, a.product_kind, a.currency, w.side, w.level"
    " LIMIT %s"
)


def _levels_query(market_context, now, depth, limit, product_kind, interface, window) -> tuple[str, str, list]:
    """(statement name, template, parameters) of the book view for the filters given. The
    (node, interval) prefixes are walked from the node's first open one when the request
    names a node (stopping past the window's end), else from the market context's first."""
    first, first_params, next_node, next_params, stop, stop_params = "", [], _NEXT_NODE, [market_context], "", []
    products, product_params = "", []
    if interface is not None:
        first, first_params = " AND t.delivery_node = %s AND t.start_at > %s", [interface[1], now]
        next_node, next_params = "", []
        if window is not None:
            stop, stop_params = " WHERE h.start_at < %s", [window.end]
        products += " AND coalesce(t.receipt_node, '') = %s"
        product_params.append(interface[0])
    if product_kind is not None:
        products += " AND t.product_kind = %s"
        product_params.append(product_kind)
    within, within_params = "", []
    if window is not None:
        within, within_params = " AND s.start_at < %s AND s.end_at > %s", [window.end, window.start]
    at_params = [market_context, now, *product_params]

    def at(w: str) -> str:
        return _AT.format(w=w, products=products)

    def price(w: str, beyond: bool) -> str:
        return _PRICE.format(w=w, at=at(w), beyond_sell=f" AND t.price_per_kwh > {w}.price" if beyond else "",
                             beyond_buy=f" AND t.price_per_kwh < {w}.price" if beyond else "")

    template = _LEVELS.format(
        prefixes=_PREFIXES.format(first=first, next_node=next_node, stop=stop), best=price("s", False), next=price("w", True),
        at_w=at("w"), within=within,
    )
    params = [market_context, *first_params, market_context, market_context, *next_params, *stop_params]
    params += [*at_params, *at_params, now, *within_params]
    params += [*at_params, *at_params, depth, *at_params, limit]
    shape = "".join(letter for letter, given in (("i", interface), ("k", product_kind), ("w", window)) if given)
    return f"temix_book_levels_{shape or 'all'}", template, params


@dataclass(frozen=True)
class RestingOrder(Order):
    """A resting order as read from its book, with what its fill transaction is made from."""

    rate_scale: str = "k"
    stored_form: bytes = b""


class BookRepository:
    """``uow.book``."""

    def __init__(self, uow):
        self._uow = uow

    def enter(self, books: list[BookKey]) -> None:
        """Lock these books until commit (waiting for whoever holds them), with the next query."""
        uow = self._uow
        if books:
            columns = list(zip(*[
                (b.market_context, b.product_kind, b.receipt_node or None, b.delivery_node, b.start, b.end) for b in books
            ]))
            uow.queue(uow.sql("temix_lock_books", _LOCK_BOOKS, [list(column) for column in columns]))

    def reserve(self, count: int) -> list[int]:
        """``count`` tender ids, in arrival order (a fill's transactions name its order's before
        it is inserted; an order that fills nothing takes its id at the insert, under the same
        book lock, so one round trip less)."""
        uow = self._uow
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
        name, query, params = _levels_query(market_context, now, depth, limit, product_kind, interface, window)
        rows = uow.fetch(uow.sql(name, query, params))
        return [
            (
                BookKey(market_context, kind, receipt_node, delivery_node, start_at, end_at, currency),
                Side(side),
                PriceLevel(price, rate_kw, orders),
            )
            for kind, receipt_node, delivery_node, start_at, end_at, currency, side, price, rate_kw, orders in rows
        ]
