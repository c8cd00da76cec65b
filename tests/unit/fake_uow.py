"""A unit of work with in-memory repositories, for handler tests that need no database.

Each repository keeps the rules the database enforces for the handlers: unique tenderIDs
and transactionIDs per party, registered counterparties, the tender's remaining rate never
below zero. Writes apply at once; a refusal the database makes when the writes are sent
(at commit) is raised at once here, with the same error.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import astuple, dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal

from service.domain.audit import check_details
from service.domain.commands import DistributionScope, Narrowing, ShownTender
from service.domain.deliveries import MeterReading, RecordCounts
from service.domain.errors import DuplicateIdError, NotFoundError
from service.domain.registrations import Memberships, Registration
from service.domain.intervals import Interval
from service.domain.positions import PositionChange, PositionKey, merge
from service.domain.quotes import Quote, ShownQuote, TradeKey, Traded, TradePrice, fold
from service.domain.matching import BookKey, PriceLevel
from service.domain.tenders import Side, Tender
from service.store.positions import PositionWindow
from service.store.quotes import StoredQuote
from service.store.tenders import StoredTender
from service.store.transactions import NewTransaction, StoredOption, StoredTransaction


@dataclass
class Party:
    market_contexts: set[str] = field(default_factory=set)
    groups: set[str] = field(default_factory=set)
    service_areas: set[str] = field(default_factory=set)
    roles: set[str] = field(default_factory=set)
    credentials: tuple[str, bytes | None] | None = None


@dataclass
class TenderRow:
    pk: int
    tender: Tender
    stored_form: bytes
    rate_scale: str
    distribution_pk: int | None = None


def _overlaps(interval: Interval, narrow: Narrowing) -> bool:
    return not narrow.intervals or any(
        interval.start < window.end and window.start < interval.end for window in narrow.intervals
    )


class FakeTenders:
    def __init__(self, uow: FakeUnitOfWork):
        self.uow = uow
        self.rows: list[TenderRow] = []
        self.distributions: dict[int, list[str]] = {}
        self.locked: list[tuple[str, list[str]]] = []  # (party, tenderIDs in the order locked)

    def _new(self, party_id, counterparty_id, offer, distribution_pk=None) -> TenderRow:
        product = offer.product
        tender = Tender(
            party_id=party_id,
            tender_id=offer.tender_id,
            terms=product.terms,
            remaining_kw=product.terms.quantity_kw,
            is_quote=product.is_quote,
            integral_only=product.integral_only,
            expires_at=product.expires_at,
            counterparty_id=counterparty_id,
            option=product.option,
        )
        return TenderRow(len(self.rows) + 1, tender, offer.stored_form, product.rate_scale, distribution_pk)

    def _used(self, party_id: str, tender_id: str) -> bool:
        return any(r.tender.party_id == party_id and r.tender.tender_id == tender_id for r in self.rows)

    def add(self, party_id, request_id, counterparty_id, offers) -> None:
        tender_ids = [offer.tender_id for offer in offers]
        if any(self._used(party_id, tender_id) for tender_id in tender_ids):
            raise DuplicateIdError(f"A tenderID of {tender_ids} is already used by {party_id!r}")
        if counterparty_id is not None and counterparty_id not in self.uow.parties:
            raise NotFoundError(f"Counterparty {counterparty_id!r} is not registered")
        for offer in offers:
            self.rows.append(self._new(party_id, counterparty_id, offer))

    def add_distributed(self, party_id, request_id, distribution_pk, offers) -> int:
        added = 0
        for offer in offers:
            if not self._used(party_id, offer.tender_id):
                self.rows.append(self._new(party_id, None, offer, distribution_pk))
                added += 1
        return added

    def lock(self, party_id, tender_ids, exchanges=False) -> dict[str, StoredTender]:
        ordered = sorted(tender_ids)
        self.locked.append((party_id, ordered))
        return {
            row.tender.tender_id: StoredTender(row.pk, row.tender)
            for tender_id in ordered
            for row in self.rows
            if row.tender.party_id == party_id and row.tender.tender_id == tender_id
        }

    def addressed_to(self, party_id, tender_id) -> bool:
        return any(r.tender.tender_id == tender_id and r.tender.counterparty_id == party_id for r in self.rows)

    def cancel(self, pks, now) -> None:
        for row in self.rows:
            if row.pk in pks:
                row.tender = replace(row.tender, cancelled=True)

    def take(self, pk, quantity_kw) -> None:
        row = self.rows[pk - 1]
        remaining = row.tender.remaining_kw - quantity_kw
        assert remaining >= 0, "the tender's check constraint"
        row.tender = replace(row.tender, remaining_kw=remaining)

    def _visible(self, row: TenderRow, party_id: str) -> bool:
        t = row.tender
        return (
            t.party_id == party_id
            or t.counterparty_id == party_id
            or party_id in self.distributions.get(row.distribution_pk, ())
        )

    def standing_visible_to(self, party_id, now, narrow: Narrowing, limit) -> list[ShownTender]:
        found = []
        for row in sorted(self.rows, key=lambda r: (r.tender.terms.interval.start, r.pk)):
            t = row.tender
            other = t.counterparty_id if t.party_id == party_id else t.party_id
            if (
                self._visible(row, party_id)
                and not t.cancelled and t.remaining_kw > 0 and not t.is_expired(now) and not t.has_closed(now)
                and (not narrow.counterparty_ids or other in narrow.counterparty_ids)
                and (not narrow.market_contexts or t.terms.market_context in narrow.market_contexts)
                and (not narrow.ids or t.tender_id in narrow.ids)
                and _overlaps(t.terms.interval, narrow)
            ):
                found.append(ShownTender(t.tender_id, t.remaining_kw, row.rate_scale, row.stored_form))
        return found[:limit]

    def recipients(self, party_id, market_context, scope: DistributionScope = DistributionScope()) -> list[str]:
        return sorted(
            name
            for name, party in self.uow.parties.items()
            if name != party_id
            and market_context in party.market_contexts
            and (not scope.groups or party.groups & set(scope.groups))
            and (not scope.service_areas or party.service_areas & set(scope.service_areas))
        )

    def new_distribution(self, party_id, request_id, recipients) -> int:
        pk = len(self.distributions) + 1
        self.distributions[pk] = list(recipients)
        return pk

    def distributed_to(self, tender_pks, party_id) -> set[int]:
        return {r.pk for r in self.rows if r.pk in tender_pks and party_id in self.distributions.get(r.distribution_pk, ())}


@dataclass
class TransactionRow:
    pk: int
    party_id: str
    counterparty_id: str
    made: NewTransaction


class FakeTransactions:
    def __init__(self, uow: FakeUnitOfWork):
        self.uow = uow
        self.rows: list[TransactionRow] = []

    def add(self, party_id, request_id, counterparty_id, made) -> None:
        ids = [new.transaction_id for new in made]
        used = {r.made.transaction_id for r in self.rows if r.party_id == party_id}
        if used & set(ids) or len(set(ids)) != len(ids):
            named = f"transactionID {ids[0]!r}" if len(ids) == 1 else f"A transactionID of {ids}"
            raise DuplicateIdError(f"{named} is already used by {party_id!r}")
        for new in made:
            self.rows.append(TransactionRow(len(self.rows) + 1, party_id, counterparty_id, new))

    def _tender_id(self, tender_pk: int) -> str:
        return self.uow.tenders.rows[tender_pk - 1].tender.tender_id

    def involving(self, party_id, narrow: Narrowing, limit) -> list[StoredTransaction]:
        found = []
        for row in sorted(self.rows, key=lambda r: (r.made.product.terms.interval.start, r.pk)):
            other = row.counterparty_id if row.party_id == party_id else row.party_id
            terms = row.made.product.terms
            if (
                party_id in (row.party_id, row.counterparty_id)
                and (not narrow.counterparty_ids or other in narrow.counterparty_ids)
                and (not narrow.market_contexts or terms.market_context in narrow.market_contexts)
                and (not narrow.ids or row.made.transaction_id in narrow.ids)
                and _overlaps(terms.interval, narrow)
            ):
                found.append(StoredTransaction(
                    row.made.transaction_id, self._tender_id(row.made.tender_pk), row.party_id,
                    row.counterparty_id, terms.side, row.made.stored_form,
                ))
        return found[:limit]

    def lock_option(self, party_id, counterparty_id, transaction_id) -> StoredOption | None:
        for row in self.rows:
            option = row.made.product.option
            if (
                option is not None
                and row.made.transaction_id == transaction_id
                and {row.party_id, row.counterparty_id} == {party_id, counterparty_id}
            ):
                product = row.made.product
                return StoredOption(
                    row.pk, row.made.tender_pk, row.party_id, row.counterparty_id, product.terms.side,
                    option.holder_side, option.option_type.value, option.strike_per_kwh, product.rate_scale,
                    product.terms, row.made.stored_form,
                )
        return None

    def exercises_of(self, option_pk) -> list[tuple[Interval, Decimal]]:
        return [
            (r.made.product.terms.interval, r.made.product.terms.quantity_kw)
            for r in self.rows
            if r.made.option_pk == option_pk
        ]


class FakePositions:
    def __init__(self):
        self.changes: dict[PositionKey, list[PositionChange]] = defaultdict(list)

    def apply(self, changes) -> None:
        for key, change in changes:
            self.changes[key].append(change)

    def read_window(self, party_id, window: Interval, market_contexts=(), product_kind=None, interface=None):
        found = []
        for key in sorted(self.changes):
            if (
                key.party_id != party_id
                or (market_contexts and key.market_context not in market_contexts)
                or (product_kind and key.product_kind != product_kind)
                or (interface and (key.receipt_node, key.delivery_node) != tuple(interface))
            ):
                continue
            merged = merge(self.changes[key])
            before = [c for c in merged if c.at <= window.start]
            inside = [c for c in merged if window.start < c.at < window.end]
            opening = (sum((c.rate_kw for c in before), Decimal(0)), sum((c.value_rate for c in before), Decimal(0)))
            if opening == (0, 0) and not inside:
                continue
            offsets = [(c.at - window.start) // timedelta(microseconds=1) for c in inside]
            found.append(PositionWindow(
                key, opening, window, offsets, [c.rate_kw for c in inside], [c.value_rate for c in inside]
            ))
        return found


@dataclass
class QuoteRow:
    pk: int
    party_id: str
    quote: Quote
    subscriber_id: str | None
    distribution_pk: int | None
    cancelled: bool = False


class FakeQuotes:
    """Quotes and published trade prices; the upsert's fold is the domain's ``fold``."""

    def __init__(self, uow: FakeUnitOfWork):
        self.uow = uow
        self.rows: list[QuoteRow] = []
        self.prices: dict[TradeKey, tuple[int, Traded]] = {}

    def add(self, party_id, request_id, subscriber_id, distribution_pk, quotes) -> None:
        quote_ids = [quote.quote_id for quote in quotes]
        if any(r.party_id == party_id and r.quote.quote_id in quote_ids for r in self.rows):
            raise DuplicateIdError(f"A quoteID of {quote_ids} is already used by {party_id!r}")
        if subscriber_id is not None and subscriber_id not in self.uow.parties:
            raise NotFoundError(f"Subscriber {subscriber_id!r} is not a registered party or market context")
        for quote in quotes:
            self.rows.append(QuoteRow(len(self.rows) + 1, party_id, quote, subscriber_id, distribution_pk))

    def enrolled(self, party_id, market_contexts) -> set[str]:
        party = self.uow.parties.get(party_id)
        return set(market_contexts) & (party.market_contexts if party else set())

    def publisher(self, requestor_id, publisher_id) -> tuple[bool, bool]:
        requestor = self.uow.parties.get(requestor_id)
        return publisher_id in self.uow.parties, bool(requestor and publisher_id in requestor.market_contexts)

    def lock(self, party_id, quote_ids) -> dict[str, StoredQuote]:
        return {
            r.quote.quote_id: StoredQuote(
                r.pk, r.quote.quote_id, r.subscriber_id, r.quote.market_context, r.cancelled, r.quote.expires_at,
                r.quote.span.end,
            )
            for r in self.rows
            if r.party_id == party_id and r.quote.quote_id in quote_ids
        }

    def exists(self, party_id, quote_id) -> bool:
        return any(r.party_id == party_id and r.quote.quote_id == quote_id for r in self.rows)

    def cancel(self, pks, now) -> None:
        for row in self.rows:
            if row.pk in pks:
                row.cancelled = True

    def standing_visible_to(self, party_id, publisher_id, now, narrow: Narrowing, limit) -> list[ShownQuote]:
        found = []
        for row in sorted(self.rows, key=lambda r: (r.quote.span.start, r.pk)):
            quote = row.quote
            seen = row.party_id == publisher_id and (
                party_id == publisher_id
                or row.subscriber_id == party_id
                or party_id in self.uow.tenders.distributions.get(row.distribution_pk, ())
            )
            if (
                seen
                and not row.cancelled
                and (quote.expires_at is None or quote.expires_at > now)
                and quote.span.end > now
                and (not narrow.market_contexts or quote.market_context in narrow.market_contexts)
                and (not narrow.ids or quote.quote_id in narrow.ids)
                and _overlaps(quote.span, narrow)
            ):
                found.append(ShownQuote(quote.quote_id, b"".join(quote.stored_forms)))
        return found[:limit]

    def publish(self, updates, now) -> None:
        for key, traded in updates:
            pk, prior = self.prices.get(key, (len(self.prices) + 1, None))
            self.prices[key] = (pk, fold(prior, traded))

    def trade_prices(self, market_context, narrow: Narrowing, limit) -> list[TradePrice]:
        found = [
            TradePrice(f"trade-{pk}", key, traded)
            for key, (pk, traded) in self.prices.items()
            if key.market_context == market_context
            and (not narrow.market_contexts or market_context in narrow.market_contexts)
            and (not narrow.ids or f"trade-{pk}" in narrow.ids)
            and _overlaps(Interval(key.start, key.end), narrow)
        ]
        found.sort(key=lambda price: (price.key.start, int(price.quote_id[6:])), reverse=True)
        return found[:limit]

class FakeBook:
    """``uow.book``'s view: the fake's standing tenders addressed to an exchange, summed per
    book, side and price, best first."""

    def __init__(self, uow: FakeUnitOfWork):
        self.uow = uow

    def levels(self, market_context, now, depth, limit, product_kind=None, interface=None, window=None):
        summed: dict = {}
        for row in self.uow.tenders.rows:
            tender, terms = row.tender, row.tender.terms
            if (
                terms.market_context != market_context
                or tender.counterparty_id != market_context + "#exchange"
                or tender.is_quote or tender.remaining_kw <= 0 or tender.cancelled
                or terms.interval.start <= now
                or (tender.expires_at is not None and tender.expires_at <= now)
                or (product_kind is not None and terms.kind.value != product_kind)
                or (interface is not None and interface != (terms.interface.receipt_node or "", terms.interface.delivery_node))
                or (window is not None and not (terms.interval.start < window.end and window.start < terms.interval.end))
            ):
                continue
            key = BookKey.of(terms)
            rate, orders = summed.get((key, terms.side, terms.price_per_kwh), (Decimal(0), 0))
            summed[(key, terms.side, terms.price_per_kwh)] = (rate + tender.remaining_kw, orders + 1)
        found = []
        for key in sorted({key for key, _, _ in summed}, key=lambda k: (k.start, k.end, k.delivery_node, k.receipt_node, k.product_kind, k.currency)):
            for side in (Side.BUY, Side.SELL):
                prices = sorted((p for k, s, p in summed if k == key and s is side), reverse=side is Side.BUY)
                found += [(key, side, PriceLevel(p, *summed[(key, side, p)])) for p in prices[:depth]]
        return found[:limit]


class FakeMarketContexts:
    """The registered market contexts; enrolment read from the parties' memberships."""

    def __init__(self, uow: FakeUnitOfWork, registered):
        self.uow = uow
        self.registered = {context.uri: context for context in registered}

    def as_seen_by(self, party_id: str, uris: list[str]):
        party = self.uow.parties.get(party_id, Party())
        return {
            uri: (self.registered[uri], uri in party.market_contexts) for uri in uris if uri in self.registered
        }
class FakeAudit:
    """``uow.audit``: events recorded as (kind, subject, details), kept in ``events``."""

    def __init__(self):
        self.events: list[tuple] = []

    def record(self, kind, subject, details=None) -> None:
        self.events.append((kind, subject, check_details(details or {})))
class FakeRegistrations:
    """Registrations and the memberships they added, over the fake's parties."""

    FIELDS = ("market_contexts", "groups", "service_areas", "roles")

    def __init__(self, uow: FakeUnitOfWork):
        self.uow = uow
        self.rows: dict[str, Registration] = {}

    def roles_of(self, party_id):
        party = self.uow.parties.get(party_id)
        return frozenset(party.roles) if party else frozenset()

    def party_exists(self, party_id):
        return party_id in self.uow.parties

    def add_party(self, party_id, password_hash, digest_secret):
        if party_id in self.uow.parties:
            raise DuplicateIdError(f"Party {party_id!r} already exists")
        self.uow.parties[party_id] = Party(credentials=(password_hash, digest_secret))

    def create(self, registration_id, registree_id, registrar_id, request_id, now, memberships):
        party = self.uow.parties[registree_id]
        added = Memberships.of(*(
            [name for name in names if name not in getattr(party, kind)]
            for kind, names in zip(self.FIELDS, astuple(memberships))
        ))
        for kind, names in zip(self.FIELDS, astuple(added)):
            getattr(party, kind).update(names)
        self.rows[registration_id] = Registration(registration_id, registree_id, registrar_id, added, now)
        return added

    def find(self, registree_id, registrar_id, registration_ids, intervals, limit):
        found = [
            row for row in self.rows.values()
            if row.registree_id == registree_id
            and (registrar_id is None or row.registrar_id == registrar_id)
            and (not registration_ids or row.registration_id in registration_ids)
            and row.overlaps(tuple(intervals))
        ]
        return sorted(found, key=lambda row: (row.created_at, row.registration_id))[:limit]

    def lock(self, registree_id, registration_ids):
        return {
            registration_id: row for registration_id in registration_ids
            if (row := self.rows.get(registration_id)) is not None and row.registree_id == registree_id
        }

    def cancel(self, cancelled, now):
        for row in cancelled:
            party = self.uow.parties[row.registree_id]
            for kind, names in zip(self.FIELDS, astuple(row.memberships)):
                getattr(party, kind).difference_update(names)
            self.rows[row.registration_id] = replace(row, cancelled_at=now)


@dataclass
class FakeDeliveries:
    """``uow.deliveries``: readings by key, and the history of corrections."""

    readings: dict[tuple, MeterReading] = field(default_factory=dict)
    history: list[tuple] = field(default_factory=list)  # (key, old_kwh, new_kwh, reported_by, reported_at, source)
    parties: dict = field(default_factory=dict)  # the unit of work's parties

    def record(self, readings, reported_by, reported_at, source) -> RecordCounts:
        keys = [r.key for r in readings]
        assert len(set(keys)) == len(keys), "the merge takes no key twice"
        new = corrected = 0
        for r in readings:
            old = self.readings.get(r.key)
            if old is None:
                new += 1
            elif old.energy_kwh != r.energy_kwh or old.end != r.end:
                corrected += 1
                self.history.append((r.key, old.energy_kwh, r.energy_kwh, reported_by, reported_at, source))
            else:
                continue
            self.readings[r.key] = r
        return RecordCounts(new, corrected, len(readings) - new - corrected)

    def unregistered(self, party_ids) -> list[str]:
        return sorted(party_id for party_id in party_ids if party_id not in self.parties)

    def for_party(self, party_id, market_context, interface, start, end) -> list[MeterReading]:
        return sorted(
            (
                r for r in self.readings.values()
                if r.party_id == party_id and r.market_context == market_context
                and (interface is None or r.interface == interface) and start <= r.start < end
            ),
            key=lambda r: (r.start, r.interface, r.injection),
        )

    def net_delivered(self, market_context, start, end):
        net: dict[tuple, Decimal] = defaultdict(Decimal)
        for r in self.readings.values():
            if r.market_context == market_context and start <= r.start < end:
                net[(r.party_id, r.interface, r.start, r.end)] += r.net_kwh
        return [(*key, value) for key, value in sorted(net.items(), key=lambda item: (item[0][2], item[0][0], item[0][1]))]


class FakeUnitOfWork:
    """``with FakeUnitOfWork() as uow: ...; uow.commit()``, like the real one."""

    def __init__(self, parties: dict[str, Party] | None = None, market_contexts=()):
        self.parties = parties or {}
        self.market_contexts = FakeMarketContexts(self, market_contexts)
        self.tenders = FakeTenders(self)
        self.transactions = FakeTransactions(self)
        self.positions = FakePositions()
        self.quotes = FakeQuotes(self)
        self.audit = FakeAudit()
        self.registrations = FakeRegistrations(self)
        self.deliveries = FakeDeliveries(parties=self.parties)
        self.book = FakeBook(self)
        self.committed = False

    def __enter__(self) -> FakeUnitOfWork:
        return self

    def __exit__(self, *exc) -> None:
        pass

    def commit(self) -> None:
        self.committed = True


@dataclass
class FakeForms:
    """Stored forms of exercised products: recorded, and named after the exercise."""

    made: list[tuple] = field(default_factory=list)

    def exercised(self, option_form, interval, quantity_text, side, uid) -> bytes:
        self.made.append((option_form, interval, quantity_text, side, uid))
        return f"<exercised {uid}>".encode()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
