"""The one-pass profile gives, digit for digit, what the piece-by-piece integration it replaced
gave (kept below as the reference): same steps, same Decimal representations.

Rates and prices are drawn with up to 30 significant digits and odd cell lengths (7 minutes,
a third of an hour) so that results run to the 50th digit and get rounded, and the change
points are passed unmerged, with duplicates and points outside the window.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, localcontext

from hypothesis import given, settings
from hypothesis import strategies as st

from service.domain.intervals import MICROSECONDS_PER_HOUR, Interval
from service.domain.positions import changes_for_deal, in_force, merge, profile
from service.domain.units import DECIMAL_CONTEXT

ORIGIN = datetime(2026, 3, 2, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
ZERO = Decimal(0)


# --- the reference: service/domain/positions.py before the one-pass sweep ---------------------


def reference_plain(value: Decimal) -> Decimal:
    if value.is_zero():
        return Decimal(0)
    with localcontext(DECIMAL_CONTEXT) as context:
        normal = value.normalize()
        if normal.as_tuple().exponent > 0 and normal.adjusted() < context.prec:
            return normal.quantize(Decimal(1))
        return normal


@dataclass(frozen=True)
class _Piece:
    interval: Interval
    rate_kw: Decimal
    value_rate: Decimal


def reference_profile(opening, changes, window, step=None):
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


def _pieces(opening, changes, window):
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


def _step(cell, parts):
    with localcontext(DECIMAL_CONTEXT):
        kw_microseconds = sum((p.rate_kw * p.interval.microseconds for p in parts), ZERO)
        value_microseconds = sum((p.value_rate * p.interval.microseconds for p in parts), ZERO)
        return (
            cell,
            reference_plain(kw_microseconds / cell.microseconds),
            reference_plain(kw_microseconds / MICROSECONDS_PER_HOUR),
            reference_plain(value_microseconds / MICROSECONDS_PER_HOUR),
            reference_plain(min(part.rate_kw for part in parts)),
            reference_plain(max(part.rate_kw for part in parts)),
        )


# --- random positions -------------------------------------------------------------------------


def decimals(digits: int):
    return st.builds(
        lambda n, exponent: Decimal(n).scaleb(exponent),
        st.integers(-(10**digits), 10**digits),
        st.integers(-12, 3),
    )


def spans(max_minutes: int = 3 * 24 * 60):
    return st.tuples(st.integers(-120, max_minutes), st.integers(1, 24 * 60)).map(
        lambda span: Interval(ORIGIN + span[0] * MINUTE, ORIGIN + (span[0] + span[1]) * MINUTE)
    )


def deal_changes(rate_digits=(4, 30)):
    rates = st.one_of(*(decimals(digits) for digits in rate_digits))
    deal = st.tuples(spans(), rates, st.one_of(decimals(3), decimals(20)))
    return st.lists(deal, max_size=30).map(
        lambda deals: [change for interval, rate, price in deals for change in changes_for_deal(interval, rate, price)]
    )


def as_text(steps):
    return [tuple(repr(field) for field in step) for step in steps]


@settings(max_examples=300, deadline=None)
@given(
    changes=deal_changes(),
    window=spans(),
    step=st.sampled_from([None, MINUTE, 5 * MINUTE, 7 * MINUTE, 20 * MINUTE, timedelta(hours=1), timedelta(days=1)]),
    data=st.data(),
)
def test_the_one_pass_profile_equals_the_piece_by_piece_one_digit_for_digit(changes, window, step, data):
    shuffled = data.draw(st.permutations(changes))  # unmerged, duplicates, outside the window too
    opening = in_force(merge(changes), window.start)
    assert as_text(profile(opening, shuffled, window, step)) == as_text(
        reference_profile(opening, shuffled, window, step)
    )


@settings(max_examples=100, deadline=None)
@given(changes=deal_changes(rate_digits=(60,)), window=spans(), opening=st.tuples(decimals(60), decimals(60)))
def test_rates_of_more_than_fifty_digits_round_where_they_did(changes, window, opening):
    for step in (None, 5 * MINUTE, 7 * MINUTE):
        assert as_text(profile(opening, changes, window, step)) == as_text(
            reference_profile(opening, changes, window, step)
        )
