"""A party's position: its net rate over time, sells less buys, and the value of its deals.

A position is kept per (market context, product kind, interface); the functions here work
on one position and leave the grouping to the caller. Every transaction adds a constant
signed rate (sell positive, buy negative) over its interval, so the position is a step
function of time. It is held as change points, "from `at` on, the rate changes by so much",
two per transaction whatever its length: a year-long deal is 2 rows, not 105,120 five-minute
rows. Profiles over a window, raw or on a grid, are integrated from those points.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, localcontext
from typing import Protocol

from service.domain.intervals import MICROSECONDS_PER_HOUR, Interval, to_utc
from service.domain.units import DECIMAL_CONTEXT, plain

ZERO = Decimal(0)


@dataclass(frozen=True)
class PositionChange:
    """From ``at`` on, the rate changes by ``rate_kw`` and the value flow by ``value_rate``.

    The value flow is in currency per hour: revenue less cost, so a sell earns and a buy pays.
    """

    at: datetime
    rate_kw: Decimal
    value_rate: Decimal

    def __post_init__(self):
        object.__setattr__(self, "at", to_utc(self.at, "change time"))


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


@dataclass(frozen=True)
class PositionStep:
    """The position over one step of a profile.

    ``rate_kw`` is the time-weighted average (energy / hours); ``energy_kwh`` and ``value``
    (currency, revenue less cost) are integrated exactly, and rounded only where a decimal
    cannot write the result (a third of a kWh); ``min_rate_kw`` and ``max_rate_kw`` bound the
    rates in force during the step.
    """

    interval: Interval
    rate_kw: Decimal
    energy_kwh: Decimal
    value: Decimal
    min_rate_kw: Decimal
    max_rate_kw: Decimal


@dataclass(frozen=True)
class _Piece:
    """A stretch of time over which the position is constant."""

    interval: Interval
    rate_kw: Decimal
    value_rate: Decimal


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
    pieces = _pieces(opening, changes, window)
    if step is None:
        return [_step(piece.interval, [piece]) for piece in pieces]
    steps = []
    first = 0
    for cell in window.split(step):
        while pieces[first].interval.end <= cell.start:
            first += 1
        parts = []
        index = first
        while index < len(pieces) and pieces[index].interval.start < cell.end:
            piece = pieces[index]
            parts.append(_Piece(piece.interval.intersection(cell), piece.rate_kw, piece.value_rate))
            index += 1
        steps.append(_step(cell, parts))
    return steps


def _pieces(
    opening: tuple[Decimal, Decimal], changes: Iterable[PositionChange], window: Interval
) -> list[_Piece]:
    rate, value_rate = opening
    pieces = []
    start = window.start
    with localcontext(DECIMAL_CONTEXT):
        for change in merge(changes):
            if not window.start < change.at < window.end:
                continue
            pieces.append(_Piece(Interval(start, change.at), rate, value_rate))
            rate += change.rate_kw
            value_rate += change.value_rate
            start = change.at
    pieces.append(_Piece(Interval(start, window.end), rate, value_rate))
    return pieces


def _step(cell: Interval, parts: list[_Piece]) -> PositionStep:
    # Sum rate x microseconds exactly, then divide once, so each figure rounds at most once.
    with localcontext(DECIMAL_CONTEXT):
        kw_microseconds = sum((p.rate_kw * p.interval.microseconds for p in parts), ZERO)
        value_microseconds = sum((p.value_rate * p.interval.microseconds for p in parts), ZERO)
        return PositionStep(
            interval=cell,
            rate_kw=plain(kw_microseconds / cell.microseconds),
            energy_kwh=plain(kw_microseconds / MICROSECONDS_PER_HOUR),
            value=plain(value_microseconds / MICROSECONDS_PER_HOUR),
            min_rate_kw=plain(min(part.rate_kw for part in parts)),
            max_rate_kw=plain(max(part.rate_kw for part in parts)),
        )


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
