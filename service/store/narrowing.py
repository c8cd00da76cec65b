"""The filters EiRequestTender and EiRequestTransaction share, as SQL conditions, and how
both lists are planned.
"""

from __future__ import annotations

import zlib

from service.domain.commands import Narrowing


# Both lists are prepared statements, planned for the party and filters at hand every time
#: after five runs PostgreSQL may otherwise keep a generic plan,
# made for an average party. For a party far larger than that (a market maker among
# households), such a plan can read its whole standing set or history in index order instead
# of the window from the GiST index, or read all its rows and sort them when a literal limit
# exceeds the average party's rows. The limits are parameters too, which keeps a generic
# plan reading in index order should one be used.
CUSTOM_PLAN = b"SET LOCAL plan_cache_mode = force_custom_plan;\n"


def fetch_list(uow, name: str, query: str, params: list) -> list[tuple]:
    """The rows of a list query: prepared once per shape (named after its text, as the
    filters give each request its own), planned for the party at hand (CUSTOM_PLAN)."""
    return uow.fetch(CUSTOM_PLAN + uow.sql(f"{name}_{zlib.crc32(query.encode()):08x}", query, params))


def narrowing_sql(narrow: Narrowing, alias: str, id_column: str) -> tuple[str, list]:
    """`` AND ...`` conditions on a tender or transaction row ``alias``, and their parameters.

    A delivery interval overlaps a window if it starts before the window ends and ends after
    it starts; both are half-open and never empty, so that is ``&&`` of the two ranges: the
    form the GiST indexes answer (reading the window, not everything before it)."""
    found, params = [], []
    if narrow.market_contexts:
        found.append(f"{alias}.market_context = ANY(%s)")
        params.append(list(narrow.market_contexts))
    if narrow.ids:
        found.append(f"{alias}.{id_column} = ANY(%s)")
        params.append(list(narrow.ids))
    if narrow.intervals:
        during = f"tstzrange({alias}.start_at, {alias}.end_at) && tstzrange(%s, %s)"
        found.append("(" + " OR ".join([during] * len(narrow.intervals)) + ")")
        params += [instant for interval in narrow.intervals for instant in (interval.start, interval.end)]
    return "".join(f" AND {condition}" for condition in found), params


def counterparty_sql(narrow: Narrowing, column: str) -> tuple[str, list]:
    """The condition that ``column``, the other side of a row, is a named counterparty."""
    if not narrow.counterparty_ids:
        return "", []
    return f" AND {column} = ANY(%s)", [list(narrow.counterparty_ids)]


def first_per_branch(
    branches: list[tuple[str, list, str]], narrow: Narrowing, alias: str, id_column: str, limit: int
) -> tuple[str, list]:
    """The UNION ALL of one SELECT per way a party sees a row, each narrowed, ordered by
    delivery start and stopped at ``limit`` rows (so each reads its own index in list order),
    and its parameters. ``branches``: (the SELECT up to its WHERE conditions, their parameters,
    the column holding the row's other side)."""
    conditions, narrowed = narrowing_sql(narrow, alias, id_column)
    selects, params = [], []
    for head, head_params, other_side in branches:
        with_counterparty, counterparty_params = counterparty_sql(narrow, other_side)
        selects.append(f"({head}{with_counterparty}{conditions} ORDER BY {alias}.start_at, {alias}.id LIMIT %s)")
        params += [*head_params, *counterparty_params, *narrowed, limit]
    return " UNION ALL ".join(selects), params


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
