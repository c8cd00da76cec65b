"""The settlement repository (``uow.settlements``): what a settlement run reads (energy
positions per settlement interval, the balancing party's quotes, published trade prices) and
what it writes (imbalance transactions and their settlement rows). PostgreSQL SQL through the
unit of work.

An imbalance transaction is stored as every transaction is, so EiRequestTransaction,
positions and ``temix db check-positions`` see it: a tender of the balancing party
(transactive state ``delivery``, addressed to the party, its rate all taken) and the party's
transaction of it. Its ``settlement`` row keeps what it settled (delivered and position
energy, the price and where it came from) for statements and the conservation check.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from service.domain.intervals import Interval
from service.domain.settlement import DELIVERY_STATE, Imbalance, energy_by_interval
from service.domain.tenders import Interface, Side, Terms
from service.domain.units import energy_kwh

# Settlement runs of one market context queue here: each reads positions that the one before
# it settled, so two at once would settle one imbalance twice.
_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended('temix-settle:' || %s, 0))"
# Energy positions (one node) in force during the window: the opening rate (minus the sum of
# the changes after the window start: a key's changes sum to zero) and the changes inside.
_POSITIONS = (
    "SELECT party_id, delivery_node, -sum(rate_kw),"
    " array_agg(at ORDER BY at) FILTER (WHERE at < %s), (array_agg(rate_kw ORDER BY at) FILTER (WHERE at < %s))::text"
    " FROM position_change WHERE market_context = %s AND product_kind = 'energy' AND receipt_node = '' AND at > %s"
    "{party} GROUP BY party_id, delivery_node"
)
# The balancing party's quotes in the market context overlapping the window, published by the
# time the last interval's price is final and not cancelled before the interval closes.
_QUOTES = (
    "SELECT quote_id, created_at, cancelled_at, product_xml FROM quote"
    " WHERE party_id = %s AND market_context = %s AND start_at < %s AND end_at > %s AND created_at <= %s"
    " ORDER BY id"
)
# The last trade of each interval (of any currency when the market context names none).
_TRADE_PRICES = (
    "SELECT DISTINCT ON (delivery_node, start_at, end_at) id, delivery_node, start_at, end_at, last_price_per_kwh,"
    " currency FROM trade_price"
    " WHERE market_context = %s AND product_kind = 'energy' AND receipt_node = '' AND (currency = %s OR %s = '')"
    " AND start_at >= %s AND end_at <= %s ORDER BY delivery_node, start_at, end_at, updated_at DESC, id DESC"
)
_NEXT_IDS = (
    "SELECT nextval(pg_get_serial_sequence('tender', 'id')), nextval(pg_get_serial_sequence('transaction', 'id')),"
    " nextval(pg_get_serial_sequence('settlement', 'id')) FROM generate_series(1, %s)"
)


@dataclass(frozen=True)
class QuotedRow:
    quote_id: str
    published_at: datetime
    cancelled_at: datetime | None
    product_xml: bytes


@dataclass(frozen=True)
class Booked:
    """An imbalance as booked: its transactionID and terms (the party's side)."""

    transaction_id: str
    imbalance: Imbalance
    terms: Terms


class SettlementRepository:
    """``uow.settlements``."""

    def __init__(self, uow):
        self._uow = uow

    def lock(self, market_context: str) -> None:
        self._uow.fetch(self._uow.sql("temix_settle_lock", _LOCK, (market_context,)))

    def position_energy(
        self, market_context: str, intervals: list[Interval], party_id: str | None = None
    ) -> dict[tuple, Decimal]:
        """(party, interface, interval) -> position energy in kWh, for energy positions (every
        party's, or one's) that are not flat in some of the intervals (sorted, not overlapping)."""
        window = Interval(intervals[0].start, intervals[-1].end)
        params = [window.end, window.end, market_context, window.start]
        if party_id is None:
            name, query = "temix_settle_positions", _POSITIONS.format(party="")
        else:
            name, query = "temix_settle_party_positions", _POSITIONS.format(party=" AND party_id = %s")
            params.append(party_id)
        found = {}
        for party_id, node, opening, ats, rates in self._uow.fetch(self._uow.sql(name, query, params)):
            deltas = list(zip(ats, map(Decimal, rates[1:-1].split(",")))) if ats else []
            if not opening and not deltas:
                continue
            for interval, energy in zip(intervals, energy_by_interval(opening, deltas, intervals)):
                if energy:
                    found[(party_id, node, interval)] = energy
        return found

    def quotes(self, balancing_party_id: str, market_context: str, window: Interval, closes: datetime) -> list[QuotedRow]:
        params = (balancing_party_id, market_context, window.end, window.start, closes)
        rows = self._uow.fetch(self._uow.sql("temix_settle_quotes", _QUOTES, params))
        return [QuotedRow(quote_id, at, cancelled, bytes(xml)) for quote_id, at, cancelled, xml in rows]

    def trade_prices(self, market_context: str, currency: str | None, window: Interval) -> dict[tuple, tuple[int, Decimal, str]]:
        """(interface, interval) -> (published trade price number, last price per kWh, currency)."""
        params = (market_context, currency or "", currency or "", window.start, window.end)
        rows = self._uow.fetch(self._uow.sql("temix_settle_trade_prices", _TRADE_PRICES, params))
        return {(node, Interval(start, end)): (pk, price, cur) for pk, node, start, end, price, cur in rows}

    def book(self, market_context: str, market_currency: str | None, balancing_party_id: str, run_id: str,
             imbalances: list[Imbalance], delivery_form, now: datetime) -> list[Booked]:
        """Write the imbalance transactions (tender, transaction, settlement row each) with
        COPY, inside the unit's transaction; ``delivery_form(terms)`` gives the stored products (the party's
        view, the balancing party's)."""
        if not imbalances:
            return []
        uow = self._uow
        ids = uow.fetch(uow.sql("temix_settle_ids", _NEXT_IDS, (len(imbalances),)))
        tenders, transactions, settlements, booked = [], [], [], []
        for imbalance, (tender_pk, transaction_pk, settlement_pk) in zip(imbalances, ids):
            currency = market_currency or imbalance.price.currency
            terms = Terms(
                side=imbalance.side, interface=Interface(imbalance.interface), market_context=market_context,
                interval=imbalance.interval, price_per_kwh=imbalance.price.price_per_kwh,
                quantity_kw=imbalance.rate_kw, currency=currency,
            )
            transaction_id = f"imbalance-{settlement_pk}"
            form, balancing_form = delivery_form(terms)  # the party's side, the balancing party's
            common = dict(
                product_kind="energy", receipt_node=None, delivery_node=imbalance.interface,
                market_context=market_context, currency=currency, start_at=imbalance.interval.start,
                end_at=imbalance.interval.end, price_per_kwh=terms.price_per_kwh, quantity_kw=terms.quantity_kw,
                rate_scale="k", request_id=run_id,
            )
            tenders.append(dict(
                common, id=tender_pk, party_id=balancing_party_id, tender_id=transaction_id,
                counterparty_id=imbalance.party_id, side=terms.side.opposite.value,
                transactive_state=DELIVERY_STATE, remaining_kw=Decimal(0),
                product_xml=balancing_form,
            ))
            transactions.append(dict(
                common, id=transaction_pk, party_id=imbalance.party_id, transaction_id=transaction_id,
                tender_pk=tender_pk, counterparty_id=balancing_party_id, side=terms.side.value, product_xml=form,
            ))
            settlements.append(dict(
                id=settlement_pk, market_context=market_context, party_id=imbalance.party_id,
                balancing_party_id=balancing_party_id, delivery_node=imbalance.interface,
                start_at=imbalance.interval.start, end_at=imbalance.interval.end,
                delivered_kwh=imbalance.delivered_kwh, position_kwh=imbalance.position_kwh,
                imbalance_kwh=imbalance.energy_kwh, price_per_kwh=terms.price_per_kwh, currency=currency or "",
                price_source=imbalance.price.source, transaction_pk=transaction_pk, run_id=run_id, settled_at=now,
            ))
            booked.append(Booked(transaction_id, imbalance, terms))
        for table, rows in (("tender", tenders), ("transaction", transactions), ("settlement", settlements)):
            uow.copy(table, rows)
        return booked


# Every imbalance transaction with its settlement row (either may be missing: a broken ledger).
_LEDGER = (
    "SELECT s.id, x.id, coalesce(s.market_context, x.market_context), coalesce(s.start_at, x.start_at),"
    " coalesce(s.end_at, x.end_at), s.imbalance_kwh, x.side, x.quantity_kw, x.party_id, x.counterparty_id,"
    " s.balancing_party_id"
    " FROM settlement s FULL JOIN (SELECT x.* FROM transaction x JOIN tender t ON t.id = x.tender_pk"
    " WHERE t.transactive_state = 'delivery') x ON x.id = s.transaction_pk ORDER BY 3, 4, 1, 2"
)


def verify_conservation(conn) -> list[str]:
    """In every market context and settlement interval, the balancing party's imbalance
    transactions mirror the others' exactly: each settlement row has its transaction, of the
    energy it settled, with the balancing party on the other side; describe each breach."""
    problems = []
    parties, balancing = defaultdict(Decimal), defaultdict(Decimal)
    for (settlement_pk, transaction_pk, market_context, start, end, imbalance_kwh, side, rate, party_id,
         counterparty_id, balancing_party_id) in conn.exec_driver_sql(_LEDGER):
        where = f"{market_context} {start.isoformat()}"
        if settlement_pk is None or transaction_pk is None:
            problems.append(f"{where}: imbalance transaction {transaction_pk} and settlement {settlement_pk} do not pair")
            continue
        signed = Side(side).sign * energy_kwh(rate, Interval(start, end))
        if signed != imbalance_kwh or counterparty_id != balancing_party_id:
            problems.append(f"{where}: settlement {settlement_pk} of {party_id} settled {imbalance_kwh} kWh,"
                            f" its transaction moves {signed} kWh with {counterparty_id}")
        parties[(market_context, start, end)] += imbalance_kwh
        balancing[(market_context, start, end)] -= signed  # the balancing party's side of it
    for key, energy in parties.items():
        if energy + balancing[key] != 0:
            market_context, start, _ = key
            problems.append(f"{market_context} {start.isoformat()}: the parties' imbalances ({energy} kWh) are not"
                            f" mirrored by the balancing party's ({balancing[key]} kWh)")
    return problems
