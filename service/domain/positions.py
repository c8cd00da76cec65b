"""A party's position: its net rate over time, sells less buys, and the value of its deals.

A position is kept per (market context, product kind, interface); the functions here work
on one position and leave the grouping to the caller. Every transaction adds a constant
signed rate (sell positive, buy negative) over its interval, so the position is a step
function of time. It is held as change points, "from `at` on, the rate changes by so much",
two per transaction whatever its length: a year-long deal is 2 rows, not 105,120 five-minute
rows. Profiles over a window, raw or on a grid, are integrated from those points.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, localcontext
from itertools import compress, pairwise, repeat
from operator import floordiv, lt, sub
from typing import NamedTuple, Protocol

from service.domain.errors import InvalidValueError
from service.domain.intervals import MICROSECONDS_PER_HOUR, Interval, to_utc
from service.domain.units import DECIMAL_CONTEXT, plain

ZERO = Decimal(0)


@dataclass(frozen=True, order=True)
class PositionKey:
    """Which position: a party's, in a market context, for a product kind and interface."""

    party_id: str
    market_context: str
    product_kind: str
    receipt_node: str  # '' for a one-node interface
    delivery_node: str

    @classmethod
    def of(cls, party_id: str, terms) -> PositionKey:
        return cls(
            party_id=party_id,
            market_context=terms.market_context,
            product_kind=terms.kind.value,
            receipt_node=terms.interface.receipt_node or "",
            delivery_node=terms.interface.delivery_node,
        )


class _Change(NamedTuple):
    at: datetime
    rate_kw: Decimal
    value_rate: Decimal


class PositionChange(_Change):
    """From ``at`` on, the rate changes by ``rate_kw`` and the value flow by ``value_rate``.

    The value flow is in currency per hour: revenue less cost, so a sell earns and a buy pays.
    A tuple: a position has thousands of them.
    """

    __slots__ = ()

    def __new__(cls, at: datetime, rate_kw: Decimal, value_rate: Decimal):
        return super().__new__(cls, to_utc(at, "change time"), rate_kw, value_rate)


class Deal(Protocol):
    """What a position needs of a transaction."""

    @property
    def interval(self) -> Interval: ...

    @property
    def signed_rate_kw(self) -> Decimal: ...  # sell positive, buy negative

    @property
    def price_per_kwh(self) -> Decimal: ...


def changes_for_deal(
    interval: Interval, signed_rate_kw: Decimal, price_per_kwh: Decimal
) -> tuple[PositionChange, PositionChange]:
    """The two change points of one deal: +rate at its start, -rate at its end."""
    with localcontext(DECIMAL_CONTEXT):
        value_rate = signed_rate_kw * price_per_kwh
        return (
            PositionChange(interval.start, signed_rate_kw, value_rate),
            PositionChange(interval.end, -signed_rate_kw, -value_rate),
        )


def changes_for_transaction(acceptor_id: str, maker_id: str, terms) -> list[tuple[PositionKey, PositionChange]]:
    """Both parties' change points: the acceptor on ``terms.side``, the maker opposite."""
    changes = []
    for party_id, side in ((acceptor_id, terms.side), (maker_id, terms.side.opposite)):
        for change in changes_for_deal(terms.interval, side.sign * terms.quantity_kw, terms.price_per_kwh):
            changes.append((PositionKey.of(party_id, terms), change))
    return changes


MAX_PROFILE_STEPS = 10_000


def check_profile_steps(window: Interval, step: timedelta | None) -> None:
    """A profile on a grid has at most MAX_PROFILE_STEPS steps."""
    if step is not None and window.seconds // int(step.total_seconds()) > MAX_PROFILE_STEPS:
        raise InvalidValueError(f"More than {MAX_PROFILE_STEPS} steps asked: widen the resolution")


def merge(changes: Iterable[PositionChange]) -> list[PositionChange]:
    """Change points summed by time, in time order, without points that change nothing.

    Merging is associative and commutative, so a running list can take one deal at a time:
    ``merge([*running, *changes_for_deal(...)])``.
    """
    totals: dict[datetime, tuple[Decimal, Decimal]] = {}
    with localcontext(DECIMAL_CONTEXT):
        for change in changes:
            rate, value_rate = totals.get(change.at, (ZERO, ZERO))
            totals[change.at] = (rate + change.rate_kw, value_rate + change.value_rate)
    return [
        PositionChange(at, plain(rate), plain(value_rate))
        for at, (rate, value_rate) in sorted(totals.items())
        if rate or value_rate
    ]


def recompute(deals: Iterable[Deal]) -> list[PositionChange]:
    """The change points of a position from all its deals, from scratch (the consistency check)."""
    return merge(
        change
        for deal in deals
        for change in changes_for_deal(deal.interval, deal.signed_rate_kw, deal.price_per_kwh)
    )


def in_force(changes: Iterable[PositionChange], instant: datetime) -> tuple[Decimal, Decimal]:
    """The (rate_kw, value_rate) in force at ``instant``: the sum of the changes at or before it.

    This is the ``opening`` that ``profile`` takes for a window starting at ``instant``.
    """
    instant = to_utc(instant, "instant")
    rate, value_rate = ZERO, ZERO
    with localcontext(DECIMAL_CONTEXT):
        for change in changes:
            if change.at <= instant:
                rate += change.rate_kw
                value_rate += change.value_rate
    return plain(rate), plain(value_rate)


class PositionStep(NamedTuple):
    """The position over one step of a profile.

    ``rate_kw`` is the time-weighted average (energy / hours); ``energy_kwh`` and ``value``
    (currency, revenue less cost) are integrated exactly, and rounded only where a decimal
    cannot write the result (a third of a kWh); ``min_rate_kw`` and ``max_rate_kw`` bound the
    rates in force during the step. A tuple, like PositionChange: a profile has hundreds.
    """

    interval: Interval
    rate_kw: Decimal
    energy_kwh: Decimal
    value: Decimal
    min_rate_kw: Decimal
    max_rate_kw: Decimal


def profile(
    opening: tuple[Decimal, Decimal],
    changes: Iterable[PositionChange],
    window: Interval,
    step: timedelta | None = None,
) -> list[PositionStep]:
    """The position over ``window``: one step per constant piece, or one per grid cell.

    ``opening`` is the (rate_kw, value_rate) in force at ``window.start``, that is the sum of
    every change with ``at <= window.start`` (see ``in_force``). Only the changes strictly
    inside the window are then applied; any others are ignored, so passing all of a
    position's changes gives the same result as passing only the inner ones.

    With ``step=None`` the result is the raw step function, zero stretches included. With a
    step, it is one ``PositionStep`` per cell of ``window.split(step)`` (the last cell is
    shorter if the step does not divide the window).
    """
    changes = list(changes)
    if not changes:
        return profile_of_offsets(opening, [], [], [], window, step)
    ats, rates, value_rates = zip(*changes)
    offsets = list(map(floordiv, map(sub, ats, repeat(window.start)), repeat(_MICROSECOND)))
    return profile_of_offsets(opening, offsets, rates, value_rates, window, step)


def profile_of_offsets(
    opening: tuple[Decimal, Decimal],
    offsets: Sequence[int],
    rates: Sequence[Decimal],
    value_rates: Sequence[Decimal],
    window: Interval,
    step: timedelta | None = None,
) -> list[PositionStep]:
    """``profile`` of change points given as columns, each at its microseconds from
    ``window.start``: as the store reads a window, with no datetime or PositionChange made
    per point (a party trading all day has thousands in a day)."""
    if step is not None and step <= timedelta(0):
        raise InvalidValueError(f"A grid step must be a positive duration, got {step!r}")
    span = window.microseconds
    offsets, rate_changes, value_changes = _inner_points(list(offsets), rates, value_rates, span)
    bounds = [0, *offsets, span] if step is None else [*range(0, span, step // _MICROSECOND), span]
    return _sweep(opening, offsets, rate_changes, value_changes, bounds, window.start)


_MICROSECOND = timedelta(microseconds=1)


def _inner_points(
    offsets: list[int], rates: Sequence[Decimal], value_rates: Sequence[Decimal], span: int
) -> tuple[list[int], list[Decimal], list[Decimal]]:
    """The changes strictly inside the window (offsets 0 < o < span) summed per instant (as
    ``merge`` does), without those that change nothing, in time order: (offsets, rate
    changes, value flow changes). Each is added to ZERO, which rounds to the context as
    ``merge`` does, so that the digits stay the same."""
    if not offsets:
        return [], [], []
    with localcontext(DECIMAL_CONTEXT):
        if 0 < offsets[0] and offsets[-1] < span and all(map(lt, offsets, offsets[1:])):
            # as the store reads them: inside the window, in order, one per instant (C loops)
            rates, value_rates = list(map(ZERO.__add__, rates)), list(map(ZERO.__add__, value_rates))
        else:  # any order, repeated instants, outside the window: summed in the order given
            totals: dict[int, tuple[Decimal, Decimal]] = {}
            for offset, rate, value_rate in zip(offsets, rates, value_rates):
                if 0 < offset < span:
                    before = totals.get(offset, (ZERO, ZERO))
                    totals[offset] = (before[0] + rate, before[1] + value_rate)
            offsets = sorted(totals)
            rates, value_rates = [totals[o][0] for o in offsets], [totals[o][1] for o in offsets]
    changing = list(map(any, zip(rates, value_rates)))
    if all(changing):
        return offsets, rates, value_rates
    return list(compress(offsets, changing)), list(compress(rates, changing)), list(compress(value_rates, changing))


def _sweep(
    opening: tuple[Decimal, Decimal],
    offsets: list[int],
    rate_changes: list[Decimal],
    value_changes: list[Decimal],
    bounds: list[int],
    origin: datetime,
) -> list[PositionStep]:
    """One pass over the change points and the cell bounds (microseconds from ``origin``).

    Each cell sums rate x microseconds of its constant pieces from zero in time order, then
    divides once, so each figure rounds at most once; the Decimal operations are the same,
    in the same order, as integrating piece by piece, so the digits are too.
    """
    count = len(offsets)
    index = 0
    rate, value_rate = opening
    plain_rates: dict[Decimal, Decimal] = {}  # rates recur from cell to cell; plain() is costly
    steps = []
    end_at = origin
    with localcontext(DECIMAL_CONTEXT):
        for cell_start, cell_end in pairwise(bounds):
            while index < count and offsets[index] <= cell_start:  # a change on the cell's start
                rate += rate_changes[index]
                value_rate += value_changes[index]
                index += 1
            kw_microseconds = value_microseconds = ZERO
            low = high = rate
            since = cell_start
            while index < count and offsets[index] < cell_end:
                at = offsets[index]
                kw_microseconds += rate * (at - since)
                value_microseconds += value_rate * (at - since)
                rate += rate_changes[index]
                value_rate += value_changes[index]
                if rate < low:
                    low = rate
                elif rate > high:
                    high = rate
                since = at
                index += 1
            kw_microseconds += rate * (cell_end - since)
            value_microseconds += value_rate * (cell_end - since)
            average = kw_microseconds / (cell_end - cell_start)
            for figure in (average, low, high):
                if figure not in plain_rates:
                    plain_rates[figure] = plain(figure)
            start_at, end_at = end_at, end_at + timedelta(microseconds=cell_end - cell_start)
            steps.append(
                PositionStep(
                    Interval.trusted(start_at, end_at),
                    plain_rates[average],
                    plain(kw_microseconds / MICROSECONDS_PER_HOUR),
                    plain(value_microseconds / MICROSECONDS_PER_HOUR),
                    plain_rates[low],
                    plain_rates[high],
                )
            )
    return steps


Held = tuple[tuple[Decimal, Decimal], list[PositionChange]]  # (opening, changes) of one position


def delivered(energy: dict[str, Held], transport: dict[tuple[str, str], Held]) -> dict[str, Held]:
    """Energy positions per node with transport applied, in one market context.

    Transport bought from A to B (a negative transport position, buys being negative) moves
    energy: it counts as energy bought at B and sold at A. So the delivered position at a
    node is its energy position, plus the transport positions delivering to it, less those
    receiving from it. Values stay where they are paid: a transport's value (its cost) counts
    at its point of delivery. Rates are linear, so this holds at every instant: buying 2 kW
    at A and 2 kW of transport A->B gives 0 at A and 2 kW bought (-2) at B.
    """
    opening: dict[str, list[Decimal]] = {}
    changes: dict[str, list[PositionChange]] = {}

    def add(node: str, held: Held, rate_sign: int, with_value: bool) -> None:
        (rate, value_rate), points = held
        total = opening.setdefault(node, [ZERO, ZERO])
        total[0] += rate_sign * rate
        total[1] += value_rate if with_value else ZERO
        changes.setdefault(node, []).extend(
            PositionChange(c.at, rate_sign * c.rate_kw, c.value_rate if with_value else ZERO) for c in points
        )

    with localcontext(DECIMAL_CONTEXT):
        for node, held in energy.items():
            add(node, held, 1, True)
        for (receipt, delivery), held in transport.items():
            add(delivery, held, 1, True)
            add(receipt, held, -1, False)
    return {node: ((plain(o[0]), plain(o[1])), merge(changes[node])) for node, o in sorted(opening.items())}
