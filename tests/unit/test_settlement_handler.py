"""The settlement handler (service.handlers.settlement) on a fake unit of work: what it books,
where its price comes from, what it audits, and that a second run books nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from service.domain import audit
from service.domain.deliveries import MeterReading
from service.domain.errors import InvalidValueError
from service.domain.intervals import Interval
from service.domain.markets import MarketContext
from service.domain.positions import PositionKey, changes_for_deal, merge
from service.domain.settlement import Settle, energy_by_interval
from service.domain.tenders import Interface, Side, Terms
from service.handlers.settlement import SettleContext, settle_market
from service.store.settlement import Booked, QuotedRow
from tests.unit.fake_uow import FakeAudit, FakeUnitOfWork

CTX = "urn:ctx"
T0 = datetime(2030, 1, 1, tzinfo=UTC)
HOUR = Interval(T0, T0 + timedelta(hours=1))
AFTER = T0 + timedelta(hours=2)


class Audit(FakeAudit):
    def act_as(self, actor, request_id, at) -> None:
        self.actor = actor

    def pending(self):
        return None

    def copy_pending(self) -> None:
        pass


class FakeSettlements:
    """``uow.settlements`` over the fake's positions: quotes and trade prices as given."""

    def __init__(self, uow, quotes=(), trades=None):
        self.uow, self.quoted, self.traded, self.locked, self.booked = uow, list(quotes), trades or {}, [], []

    def lock(self, market_context):
        self.locked.append(market_context)

    def position_energy(self, market_context, intervals, party_id=None):
        found = {}
        for key, changes in self.uow.positions.changes.items():
            if key.market_context != market_context or key.product_kind != "energy":
                continue
            merged = merge(changes)
            opening = sum((c.rate_kw for c in merged if c.at <= intervals[0].start), Decimal(0))
            inside = [(c.at, c.rate_kw) for c in merged if c.at > intervals[0].start]
            for interval, energy in zip(intervals, energy_by_interval(opening, inside, intervals)):
                if energy:
                    found[(key.party_id, key.delivery_node, interval)] = energy
        return found

    def quotes(self, balancing_party_id, market_context, window, closes):
        return [row for row in self.quoted if row.published_at <= closes]

    def trade_prices(self, market_context, currency, window):
        return self.traded

    def book(self, market_context, market_currency, balancing_party_id, run_id, imbalances, delivery_form, now):
        made = []
        for imbalance in imbalances:
            terms = Terms(imbalance.side, Interface(imbalance.interface), market_context, imbalance.interval,
                          imbalance.price.price_per_kwh, imbalance.rate_kw, market_currency or imbalance.price.currency)
            made.append(Booked(f"imbalance-{len(self.booked) + 1}", imbalance, terms))
            self.booked.append(made[-1])
        return made


class Forms:
    """Quotes whose stored form is the price as text (one product for HOUR at NODE-1)."""

    def quoted_prices(self, product_xml, market):
        return [Terms(Side.SELL, Interface("NODE-1"), market.uri, HOUR, Decimal(product_xml.decode()), Decimal(1), "EUR")]

    def delivery(self, terms):
        return b"<delivery/>", b"<delivery/>"


def _uow(quotes=(), trades=None):
    uow = FakeUnitOfWork()
    uow.audit = Audit()
    uow.settlements = FakeSettlements(uow, quotes, trades)
    uow.queue = lambda statement: None
    uow.flush = lambda: None
    return uow


def _bought(uow, party, kw, price="0.1"):
    for change in changes_for_deal(HOUR, -Decimal(kw), Decimal(price)):
        uow.positions.changes[PositionKey(party, CTX, "energy", "", "NODE-1")].append(change)


def _reading(uow, party, kwh):
    uow.deliveries.record([MeterReading(party, CTX, "NODE-1", HOUR.start, HOUR.end, False, Decimal(kwh))], "op", T0, "t")


def _ctx(market):
    return SettleContext("operator:settle", "run-1", AFTER, market, Forms())


MARKET = MarketContext(CTX, currency="EUR", balancing_party_id="rep", price_grace="PT5M")


def test_a_market_context_without_a_balancing_party_is_refused():
    with pytest.raises(InvalidValueError, match="balancing party"):
        settle_market(Settle(CTX, HOUR), _uow(), _ctx(MarketContext(CTX)))


def test_an_imbalance_is_booked_with_the_balancing_party_at_the_quoted_price_and_audited():
    late = QuotedRow("late", HOUR.end + timedelta(minutes=6), None, b"0.9")
    uow = _uow([QuotedRow("rt", HOUR.end, None, b"0.2"), late])
    _bought(uow, "b", "3")
    _reading(uow, "b", "3.5")  # withdrew 0.5 kWh more than bought
    settled = settle_market(Settle(CTX, HOUR), uow, _ctx(MARKET))
    (transaction_id, imbalance), = settled.transactions
    assert (imbalance.energy_kwh, imbalance.side, imbalance.price.source, imbalance.value) == (
        Decimal("-0.5"), Side.BUY, "quote:rt", Decimal("-0.10"))
    assert uow.settlements.locked == [CTX]
    held = uow.settlements.position_energy(CTX, [HOUR])
    assert held == {("b", "NODE-1", HOUR): Decimal("-3.5"), ("rep", "NODE-1", HOUR): Decimal("0.5")}
    kinds = [(kind, subject.party_id, subject.counterparty_id) for kind, subject, _ in uow.audit.events]
    assert kinds == [(audit.TRANSACTION_CREATED, "b", "rep"), (audit.SETTLEMENT_RUN, "rep", None)]
    assert uow.audit.events[0][2]["settlement"] is True and uow.audit.events[1][2]["transactions"] == 1
    assert settle_market(Settle(CTX, HOUR), uow, _ctx(MARKET)).transactions == ()  # nothing left


def test_without_a_quote_the_last_trade_price_settles_and_without_either_nothing_does():
    uow = _uow(trades={("NODE-1", HOUR): (7, Decimal("0.3"), "EUR")})
    _bought(uow, "b", "1")
    _reading(uow, "b", "2")
    (_, imbalance), = settle_market(Settle(CTX, HOUR), uow, _ctx(MARKET)).transactions
    assert imbalance.price.source == "trade-7" and imbalance.value == Decimal("-0.3")
    bare = _uow()
    _bought(bare, "b", "1")
    _reading(bare, "b", "2")
    settled = settle_market(Settle(CTX, HOUR), bare, _ctx(MARKET))
    assert settled.transactions == () and [u.reason for u in settled.unsettled] == ["no real-time price"]
    assert bare.settlements.booked == []
