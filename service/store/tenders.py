"""The tender repository (``uow.tenders``): tender rows <-> domain tenders, distributions.

Every statement is PostgreSQL SQL sent through the unit of work: writes whose result is not
needed are queued (sent with the commit), reads and locks fetched.
"""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass
from datetime import datetime

from service.domain.commands import DistributionScope, Narrowing, Offer, ShownTender
from service.domain.errors import DuplicateIdError, NotFoundError
from service.domain.intervals import Interval
from service.domain.options import OptionTerms, OptionType
from service.domain.tenders import Interface, Side, Tender, Terms
from service.store.book import CANCEL_BOOK_LOCKS
from service.store.narrowing import fetch_list, first_per_branch, terms_columns
from service.store.tables import tender

UNIQUE_TENDER_ID = "uq_tender_party_tender_id"
COUNTERPARTY_KEY = "tender_counterparty_id_fkey"


@dataclass(frozen=True)
class StoredTender:
    pk: int
    tender: Tender


def _row(party_id: str, request_id: str, counterparty_id: str | None, offer: Offer) -> dict:
    product = offer.product
    return dict(
        terms_columns(product.terms, product.option),
        party_id=party_id,
        tender_id=offer.tender_id,
        counterparty_id=counterparty_id,
        request_id=request_id,
        transactive_state=product.transactive_state,
        remaining_kw=product.terms.quantity_kw,
        integral_only=product.integral_only,
        expires_at=product.expires_at,
        rate_scale=product.rate_scale,
        product_xml=offer.stored_form,
    )


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
# Standing at a time (twice %s): not cancelled, not filled (spelled as the standing indexes'
# predicate, so the planner uses them), not expired, and not started (trading closes when
# delivery starts).
_STANDING = (
    "t.cancelled_at IS NULL AND t.remaining_kw > 0"
    " AND (t.expires_at IS NULL OR t.expires_at > %s) AND t.start_at > %s"
)
# products as text: psycopg2 decodes bytea far slower; lxml serialises them as ASCII or UTF-8
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
# Parties enrolled in a market context, not the sender; narrowed by groups, service areas.
_RECIPIENTS = "SELECT e.party_id FROM party_market_context e WHERE e.market_context = %s AND e.party_id <> %s"
_IN_GROUPS = " AND e.party_id IN (SELECT party_id FROM party_group WHERE group_name = ANY(%s))"
_IN_AREAS = " AND e.party_id IN (SELECT party_id FROM party_service_area WHERE service_area = ANY(%s))"
# A distribution and its recipients, written once (its tenders name it), in one statement.
_DISTRIBUTION = (
    "WITH d AS (INSERT INTO distribution (party_id, request_id) VALUES (%s, %s) RETURNING id),"
    " r AS (INSERT INTO distribution_recipient (distribution_pk, party_id) SELECT d.id, unnest(%s::text[]) FROM d)"
    " SELECT id FROM d"
)


class TenderRepository:
    """``uow.tenders``: the tenders, read and written inside the unit of work."""

    def __init__(self, uow):
        self._uow = uow

    def add(self, party_id: str, request_id: str, counterparty_id: str | None, offers, entered=None) -> None:
        """Insert the tenders with the unit's commit. A tenderID the party already used, or an
        unregistered counterparty (the foreign key: no lookup of our own), refuses the request.
        ``entered``: per offer, the id reserved for it (None: every offer's id from the
        sequence, at the insert) and the rate left after its fills (a tender to an exchange,
        ``uow.book``)."""
        uow = self._uow
        rows = [_row(party_id, request_id, counterparty_id, offer) for offer in offers]
        for row, (pk, remaining_kw) in zip(rows, entered or ()):
            row["remaining_kw"] = remaining_kw
            if pk is not None:
                row["id"] = pk
        tender_ids = [row["tender_id"] for row in rows]
        uow.queue(
            uow.insert_sql("temix_insert_tender", "tender", rows),
            refusals={
                UNIQUE_TENDER_ID: lambda: DuplicateIdError(f"A tenderID of {tender_ids} is already used by {party_id!r}"),
                COUNTERPARTY_KEY: lambda: NotFoundError(f"Counterparty {counterparty_id!r} is not registered"),
            },
        )

    def add_distributed(self, party_id: str, request_id: str, distribution_pk: int, offers) -> int:
        """Insert the distributed tenders now; how many were new (a tenderID used before is skipped)."""
        uow = self._uow
        rows = [dict(_row(party_id, request_id, None, offer), distribution_pk=distribution_pk) for offer in offers]
        suffix = " ON CONFLICT DO NOTHING RETURNING id"
        return len(uow.fetch(uow.insert_sql("temix_insert_distributed", "tender", rows, suffix)))

    def lock(self, party_id: str, tender_ids, exchanges: bool = False) -> dict[str, StoredTender]:
        """The party's tenders with these IDs (those that exist), row-locked until commit:
        concurrent acceptances and cancellations queue here. One round trip for any number.
        ``exchanges``: lock the books of those addressed to an exchange first (cancelling)."""
        uow = self._uow
        if exchanges:  # the books first, as matching takes them: see service.store.book
            uow.queue(uow.sql("temix_lock_cancelled_books", CANCEL_BOOK_LOCKS, (party_id, list(tender_ids))))
        rows = uow.fetch(uow.sql("temix_lock_tenders", _LOCK, (party_id, list(tender_ids))))
        return {stored.tender.tender_id: stored for stored in (_to_domain(TenderRow(*row)) for row in rows)}

    def addressed_to(self, party_id: str, tender_id: str) -> bool:
        """Whether some other party's tender with this ID is addressed to ``party_id``."""
        query = "SELECT 1 FROM tender WHERE tender_id = %s AND counterparty_id = %s LIMIT 1"
        return bool(self._uow.fetch(self._uow.sql("temix_addressed_to", query, (tender_id, party_id))))

    def cancel(self, pks: list[int], now: datetime) -> None:
        query = "UPDATE tender SET cancelled_at = %s WHERE id = ANY(%s)"
        self._uow.queue(self._uow.sql("temix_cancel_tender", query, (now, pks)))

    def take(self, pk: int, quantity_kw) -> None:
        """Reduce the locked tender's remaining rate (its check constraint keeps it >= 0)."""
        query = "UPDATE tender SET remaining_kw = remaining_kw - %s WHERE id = %s"
        self._uow.queue(self._uow.sql("temix_take", query, (quantity_kw, pk)))

    def standing_visible_to(self, party_id: str, now: datetime, narrow: Narrowing, limit: int) -> list[ShownTender]:
        """The first ``limit`` standing tenders and quotes the party may see (its own, those
        addressed to it, those distributed to it), by delivery start.

        One UNION ALL branch per way of seeing a tender, each read from its own index in list
        order and stopped at ``limit`` rows (an interval filter reads the window from the GiST
        index instead); then the first ``limit`` of the three. Planned anew each time: see
        ``narrowing.CUSTOM_PLAN``."""
        branches = [
            (f"SELECT {_SHOWN} {source} AND {_STANDING}", [party_id, now, now], other) for source, other in _BRANCHES
        ]
        union, params = first_per_branch(branches, narrow, "t", "tender_id", limit)
        query = (
            f"SELECT tender_id, remaining_kw, rate_scale, product_xml FROM ({union}) shown"
            " ORDER BY start_at, id LIMIT %s"
        )
        params.append(limit)
        rows = fetch_list(self._uow, "temix_standing", query, params)
        return [ShownTender(tender_id, remaining, scale, xml.encode()) for tender_id, remaining, scale, xml in rows]

    def recipients(self, party_id: str, market_context: str, scope: DistributionScope = DistributionScope()) -> list[str]:
        """Parties enrolled in the market context, not the sender; if the scope names groups
        only those in one of them, and if it names service areas only those in one of those."""
        query, params, shape = _RECIPIENTS, [market_context, party_id], ""
        for letter, condition, names in (("g", _IN_GROUPS, scope.groups), ("a", _IN_AREAS, scope.service_areas)):
            if names:
                query, shape = query + condition, shape + letter
                params.append(list(names))
        name = f"temix_recipients_{shape or 'all'}"
        return [party for (party,) in self._uow.fetch(self._uow.sql(name, query + " ORDER BY e.party_id", params))]

    def new_distribution(self, party_id: str, request_id: str, recipients: list[str]) -> int:
        """A distribution to these parties, its recipients written once (its tenders name it)."""
        rows = self._uow.fetch(self._uow.sql("temix_new_distribution", _DISTRIBUTION, (party_id, request_id, recipients)))
        return rows[0][0]

    def distributed_to(self, tender_pks, party_id: str) -> set[int]:
        """Which of these tenders were distributed to the party (one query for any number)."""
        query = (
            "SELECT t.id FROM tender t JOIN distribution_recipient r ON r.distribution_pk = t.distribution_pk"
            " WHERE r.party_id = %s AND t.id = ANY(%s)"
        )
        return {pk for (pk,) in self._uow.fetch(self._uow.sql("temix_distributed_to", query, (party_id, list(tender_pks))))}
