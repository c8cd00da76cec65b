"""The filters EiRequestTender and EiRequestTransaction share, as SQL conditions."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, or_

from service.domain.intervals import Interval


@dataclass(frozen=True)
class Narrowing:
    """Empty fields narrow nothing; ``ids`` are tenderIDs or transactionIDs."""

    counterparty_ids: tuple[str, ...] = ()
    market_contexts: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()
    intervals: tuple[Interval, ...] = ()

    def conditions(self, columns, id_column) -> list:
        """Conditions on a table with market_context, start_at and end_at columns."""
        found = []
        if self.market_contexts:
            found.append(columns.market_context.in_(self.market_contexts))
        if self.ids:
            found.append(id_column.in_(self.ids))
        if self.intervals:
            found.append(or_(*(and_(columns.start_at < i.end, columns.end_at > i.start) for i in self.intervals)))
        return found

    def between(self, mine, theirs, own_side_column, other_side_column):
        """``mine or theirs``, each narrowed to the named counterparties if any."""
        if self.counterparty_ids:
            mine = and_(mine, other_side_column.in_(self.counterparty_ids))
            theirs = and_(theirs, own_side_column.in_(self.counterparty_ids))
        return or_(mine, theirs)


def terms_columns(terms, option=None) -> dict:
    """The columns tenders and transactions share, from domain Terms (and OptionTerms)."""
    return dict(
        option_type=option.option_type.value if option else None,
        holder_side=option.holder_side.value if option else None,
        strike_per_kwh=option.strike_per_kwh if option else None,
        side=terms.side.value,
        product_kind=terms.kind.value,
        receipt_node=terms.interface.receipt_node,
        delivery_node=terms.interface.delivery_node,
        market_context=terms.market_context,
        currency=terms.currency,
        start_at=terms.interval.start,
        end_at=terms.interval.end,
        price_per_kwh=terms.price_per_kwh,
        quantity_kw=terms.quantity_kw,
    )
