"""What a party's statement reads (``uow.statements``): its transactions in a window, by
kind, and its settlement figures per interval. PostgreSQL SQL through the unit of work."""

from __future__ import annotations

from decimal import Decimal

from service.domain.intervals import Interval
from service.domain.statements import EXERCISE, FORWARD, IMBALANCE, PREMIUM, Deal
from service.domain.tenders import Side

# The party's transactions delivering during the window, from either side: an imbalance
# transaction is one of a tender in transactive state delivery.
_DEALS = (
    "SELECT x.market_context, coalesce(x.currency, ''), x.party_id = %s, x.side, x.start_at, x.end_at,"
    " x.quantity_kw, x.price_per_kwh, x.option_type IS NOT NULL, x.option_transaction_pk IS NOT NULL,"
    " t.transactive_state = 'delivery'"
    " FROM transaction x JOIN tender t ON t.id = x.tender_pk"
    " WHERE x.{side} = %s AND tstzrange(x.start_at, x.end_at) && tstzrange(%s, %s)"
)
_SETTLED = (
    "SELECT market_context, delivery_node, start_at, end_at, imbalance_kwh, price_per_kwh, delivered_kwh"
    " FROM settlement WHERE (party_id = %s OR balancing_party_id = %s) AND start_at < %s AND end_at > %s"
    " ORDER BY start_at, id"
)


class StatementRepository:
    """``uow.statements``."""

    def __init__(self, uow):
        self._uow = uow

    def deals(self, party_id: str, window: Interval) -> list[Deal]:
        found = []
        for side_column in ("party_id", "counterparty_id"):  # each from its own GiST index
            query = _DEALS.format(side=side_column)
            params = (party_id, party_id, window.start, window.end)
            for (market_context, currency, as_acceptor, side, start, end, rate, price, is_option, is_exercise,
                 is_imbalance) in self._uow.fetch(self._uow.sql(f"temix_statement_{side_column}", query, params)):
                kind = IMBALANCE if is_imbalance else PREMIUM if is_option else EXERCISE if is_exercise else FORWARD
                own_side = Side(side) if as_acceptor else Side(side).opposite
                found.append(Deal(market_context, currency, kind, own_side, Interval(start, end), rate, price))
        return found

    def settled(self, party_id: str, window: Interval) -> list[tuple]:
        """(market context, interface, interval, imbalance kWh, price, delivered kWh) of each
        settlement of the party (or by it, as balancing party) in the window, oldest first."""
        params = (party_id, party_id, window.end, window.start)
        rows = self._uow.fetch(self._uow.sql("temix_statement_settled", _SETTLED, params))
        return [(mc, node, Interval(start, end), Decimal(imbalance), price, delivered)
                for mc, node, start, end, imbalance, price, delivered in rows]
