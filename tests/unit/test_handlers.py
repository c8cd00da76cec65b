"""Handlers on a fake unit of work: every EI response code each handler can return, without
XML or a database (the readers are tested on fixture XML in test_readers.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from service.domain.commands import (
    Acceptance,
    CancelTender,
    CreateTender,
    CreateTransaction,
    DistributeTender,
    DistributionScope,
    ExerciseAsked,
    ExerciseOption,
    Narrowing,
    Offer,
    RequestPosition,
    RequestTender,
    RequestTransaction,
)
from service.domain.errors import TemixError, UnknownMarketContextError
from service.domain.intervals import Interval
from service.domain.markets import MarketContext
from service.domain.options import OptionTerms, OptionType
from service.domain.products import Product
from service.domain.tenders import Interface, Side, Terms
from service.handlers import Context
from service.handlers.options import exercise_option
from service.handlers.positions import request_position
from service.handlers.tenders import cancel_tender, create_tender, distribute_tender, request_tender
from service.handlers.transactions import create_transaction, request_transaction
from tests.unit.fake_uow import FakeForms, FakeUnitOfWork, Party

CTX = "http://market.example.com/temix/ctx1"
MARKETS = {CTX: MarketContext(CTX, currency="USD")}
NOW = datetime(2029, 12, 31, 12, tzinfo=UTC)
START = datetime(2030, 1, 1, 10, tzinfo=UTC)
HOUR = timedelta(hours=1)


def market_of(uri: str) -> MarketContext:
    try:
        return MARKETS[uri]
    except KeyError:
        raise UnknownMarketContextError(f"Market context {uri!r} is not registered with this service") from None


def context(party_id: str, request_id: str = "r1", now: datetime = NOW, max_items: int = 1000) -> Context:
    return Context(party_id, request_id, now, market_of, max_items, FakeForms())


def product(side="sell", kw="10", price="0.08", start=START, hours=1, state="tender", node="NODE-1", receipt=None,
            integral_only=False, expires_at=None, option=None) -> Product:
    terms = Terms(
        side=Side(side),
        interface=Interface(node, receipt),
        market_context=CTX,
        interval=Interval(start, start + hours * HOUR),
        price_per_kwh=Decimal(price),
        quantity_kw=Decimal(kw),
        currency="USD",
    )
    return Product(terms, state, integral_only, expires_at, "k", option)


def offer(tender_id: str, **kw) -> Offer:
    return Offer(tender_id, product(**kw), f"<product {tender_id}>".encode())


def accept(transaction_id: str, tender_id: str, **kw) -> Acceptance:
    kw = {"side": "buy", "state": "transaction", **kw}
    return Acceptance(transaction_id, tender_id, product(**kw), f"<product {transaction_id}>".encode())


@pytest.fixture
def uow() -> FakeUnitOfWork:
    parties = {
        "party-A": Party({CTX}),
        "party-B": Party({CTX}),
        "party-C": Party({CTX}, groups={"north"}),
        "party-D": Party(),
    }
    return FakeUnitOfWork(parties)


def refused(code: str, call, *args, **kwargs) -> TemixError:
    with pytest.raises(TemixError) as raised:
        call(*args, **kwargs)
    assert raised.value.response_code == code, raised.value.description
    return raised.value


def tender(uow, tender_id="t1", to="party-B", party="party-A", **kw):
    create_tender(CreateTender(to, (offer(tender_id, **kw),)), uow, context(party))


# ---------------------------------------------------------------- EiCreateTender


def test_created_tenders_are_stored_as_offered(uow):
    result = create_tender(CreateTender("party-B", (offer("t1"), offer("t2", kw="5"))), uow, context("party-A"))
    assert result.tender_ids == ("t1", "t2")
    stored = uow.tenders.lock("party-A", ["t1", "t2"])
    assert stored["t2"].tender.remaining_kw == Decimal(5) and stored["t1"].tender.counterparty_id == "party-B"


def test_a_tender_to_yourself_is_refused_with_400(uow):
    error = refused("400", create_tender, CreateTender("party-A", (offer("t1"),)), uow, context("party-A"))
    assert "yourself" in error.description


def test_a_tender_in_another_transactive_state_is_refused_with_400(uow):
    error = refused("400", create_tender, CreateTender("party-B", (offer("t1", state="transaction"),)), uow, context("party-A"))
    assert "transactiveState of tender 't1'" in error.description


def test_a_tender_expired_on_arrival_is_refused_with_400(uow):
    expired = offer("t1", expires_at=NOW)
    error = refused("400", create_tender, CreateTender("party-B", (expired,)), uow, context("party-A"))
    assert "before the server time" in error.description


def test_a_tenderid_twice_in_one_request_is_refused_with_409(uow):
    refused("409", create_tender, CreateTender("party-B", (offer("t1"), offer("t1"))), uow, context("party-A"))


def test_a_tenderid_used_before_is_refused_with_409(uow):
    tender(uow)
    refused("409", create_tender, CreateTender("party-B", (offer("t1"),)), uow, context("party-A", "r2"))


def test_a_tender_to_an_unregistered_counterparty_is_refused_with_404(uow):
    refused("404", create_tender, CreateTender("nobody", (offer("t1"),)), uow, context("party-A"))


# ---------------------------------------------------------------- EiDistributeTender


def test_a_distributed_tender_reaches_every_party_enrolled_but_the_sender(uow):
    result = distribute_tender(DistributeTender((offer("d1"),)), uow, context("party-A"))
    assert (result.recipient_count, result.tender_ids) == (2, ("d1",))  # B and C; D is not enrolled
    assert uow.tenders.distributions == {1: ["party-B", "party-C"]}


def test_a_distribution_scope_narrows_the_recipients(uow):
    result = distribute_tender(DistributeTender((offer("d1"),), DistributionScope(groups=("north",))), uow, context("party-A"))
    assert result.recipient_count == 1


def test_a_scope_that_reaches_nobody_is_refused_with_404(uow):
    scope = DistributionScope(groups=("south",))
    error = refused("404", distribute_tender, DistributeTender((offer("d1"),), scope), uow, context("party-A"))
    assert error.description.endswith("within groups south")


def test_an_empty_scope_name_is_refused_with_400(uow):
    scope = DistributionScope(service_areas=("",))
    refused("400", distribute_tender, DistributeTender((offer("d1"),), scope), uow, context("party-A"))


def test_a_distributed_quote_in_another_state_is_refused_with_400(uow):
    refused("400", distribute_tender, DistributeTender((offer("d1", state="exercise"),)), uow, context("party-A"))


def test_a_distributed_tenderid_used_before_is_refused_with_409(uow):
    tender(uow, "d1")
    refused("409", distribute_tender, DistributeTender((offer("d1"),)), uow, context("party-A", "r2"))


# ---------------------------------------------------------------- EiCancelTender


def test_a_cancelled_tender_no_longer_stands(uow):
    tender(uow)
    cancel_tender(CancelTender(("t1", "t1")), uow, context("party-A", "c1"))
    assert request_tender(RequestTender(Narrowing()), uow, context("party-B")).tenders == ()


def test_cancelling_a_tender_addressed_to_you_is_refused_with_403(uow):
    tender(uow)
    refused("403", cancel_tender, CancelTender(("t1",)), uow, context("party-B"))


def test_cancelling_an_unknown_tender_is_refused_with_404(uow):
    refused("404", cancel_tender, CancelTender(("t1",)), uow, context("party-A"))


def test_cancelling_a_cancelled_tender_is_refused_with_410(uow):
    tender(uow)
    cancel_tender(CancelTender(("t1",)), uow, context("party-A", "c1"))
    refused("410", cancel_tender, CancelTender(("t1",)), uow, context("party-A", "c2"))


# ---------------------------------------------------------------- EiRequestTender


def test_a_party_sees_its_own_addressed_and_distributed_tenders_only(uow):
    tender(uow, "t1", to="party-B")
    tender(uow, "t2", to="party-C")
    distribute_tender(DistributeTender((offer("d1"),)), uow, context("party-A", "r3"))
    seen = request_tender(RequestTender(Narrowing()), uow, context("party-B"))
    assert [t.tender_id for t in seen.tenders] == ["t1", "d1"] and seen.description == "OK"


def test_a_list_longer_than_the_limit_says_so(uow):
    create_tender(CreateTender("party-B", tuple(offer(f"t{n}") for n in range(3))), uow, context("party-A"))
    seen = request_tender(RequestTender(Narrowing()), uow, context("party-B", max_items=2))
    assert len(seen.tenders) == 2
    assert seen.description == "OK: the first 2 matches (more exist; narrow the request)"


# ---------------------------------------------------------------- EiCreateTransaction


def test_an_acceptance_takes_from_the_tender_and_moves_both_positions(uow):
    tender(uow)
    result = create_transaction(CreateTransaction("party-A", (accept("x1", "t1", kw="4"),)), uow, context("party-B", "a1"))
    assert result.transaction_ids == ("x1",)
    assert uow.tenders.lock("party-A", ["t1"])["t1"].tender.remaining_kw == Decimal(6)
    rates = {key.party_id: sum(c.rate_kw for c in changes if c.at == START) for key, changes in uow.positions.changes.items()}
    assert rates == {"party-B": Decimal(-4), "party-A": Decimal(4)}  # the buyer's position is negative


def test_tenders_are_locked_in_one_call_in_tenderid_order(uow):
    create_tender(CreateTender("party-B", (offer("t2"), offer("t1"))), uow, context("party-A"))
    create_transaction(
        CreateTransaction("party-A", (accept("x1", "t2", kw="1"), accept("x2", "t1", kw="1"))), uow, context("party-B", "a1")
    )
    assert uow.tenders.locked == [("party-A", ["t1", "t2"])]


def test_an_acceptance_in_another_transactive_state_is_refused_with_400(uow):
    tender(uow)
    refused("400", create_transaction, CreateTransaction("party-A", (accept("x1", "t1", state="tender"),)), uow, context("party-B"))


def test_accepting_your_own_tender_is_refused_with_403(uow):
    tender(uow)
    error = refused("403", create_transaction, CreateTransaction("party-A", (accept("x1", "t1"),)), uow, context("party-A"))
    assert "your own" in error.description


def test_accepting_a_tender_addressed_to_another_is_refused_with_403(uow):
    tender(uow)
    error = refused("403", create_transaction, CreateTransaction("party-A", (accept("x1", "t1"),)), uow, context("party-C"))
    assert "not addressed to you" in error.description


def test_a_distributed_tender_is_acceptable_by_its_recipients(uow):
    distribute_tender(DistributeTender((offer("d1"),)), uow, context("party-A"))
    create_transaction(CreateTransaction("party-A", (accept("x1", "d1", kw="1"),)), uow, context("party-C", "a1"))
    refused("403", create_transaction, CreateTransaction("party-A", (accept("x1", "d1", kw="1"),)), uow, context("party-D", "a2"))


def test_accepting_an_unknown_tender_is_refused_with_404(uow):
    refused("404", create_transaction, CreateTransaction("party-A", (accept("x1", "t1"),)), uow, context("party-B"))


def test_a_transactionid_used_before_is_refused_with_409(uow):
    tender(uow)
    create_transaction(CreateTransaction("party-A", (accept("x1", "t1", kw="1"),)), uow, context("party-B", "a1"))
    refused("409", create_transaction, CreateTransaction("party-A", (accept("x1", "t1", kw="1"),)), uow, context("party-B", "a2"))


def test_accepting_a_cancelled_tender_is_refused_with_410(uow):
    tender(uow)
    cancel_tender(CancelTender(("t1",)), uow, context("party-A", "c1"))
    refused("410", create_transaction, CreateTransaction("party-A", (accept("x1", "t1"),)), uow, context("party-B"))


def test_accepting_after_delivery_started_is_refused_with_410(uow):
    tender(uow)
    refused("410", create_transaction, CreateTransaction("party-A", (accept("x1", "t1"),)), uow, context("party-B", now=START))


@pytest.mark.parametrize("change", [dict(side="sell"), dict(price="0.09"), dict(hours=2), dict(node="NODE-2")])
def test_accepting_on_other_terms_is_refused_with_412(uow, change):
    tender(uow)
    refused("412", create_transaction, CreateTransaction("party-A", (accept("x1", "t1", **change),)), uow, context("party-B"))


def test_accepting_an_option_tender_with_a_plain_product_is_refused_with_412(uow):
    tender(uow, option=OptionTerms(OptionType.CALL, Side.BUY, Decimal("0.10")))
    error = refused("412", create_transaction, CreateTransaction("party-A", (accept("x1", "t1"),)), uow, context("party-B"))
    assert "an option" in error.description


def test_more_than_remains_is_refused_with_460_also_across_one_requests_acceptances(uow):
    tender(uow)
    refused("460", create_transaction, CreateTransaction("party-A", (accept("x1", "t1", kw="11"),)), uow, context("party-B"))
    twice = (accept("x1", "t1", kw="6"), accept("x2", "t1", kw="6"))
    refused("460", create_transaction, CreateTransaction("party-A", twice), uow, context("party-B", "a2"))


def test_part_of_an_integral_only_tender_is_refused_with_460(uow):
    tender(uow, integral_only=True)
    error = refused("460", create_transaction, CreateTransaction("party-A", (accept("x1", "t1", kw="5"),)), uow, context("party-B"))
    assert "integral-only" in error.description


def test_accepting_a_quote_is_refused_with_461(uow):
    tender(uow, state="indicationOfInterest")
    refused("461", create_transaction, CreateTransaction("party-A", (accept("x1", "t1"),)), uow, context("party-B"))


# ---------------------------------------------------------------- EiRequestTransaction


def test_the_tenders_party_sees_a_transaction_from_its_own_side(uow):
    tender(uow)
    create_transaction(CreateTransaction("party-A", (accept("x1", "t1", kw="1"),)), uow, context("party-B", "a1"))
    acceptor = request_transaction(RequestTransaction(Narrowing()), uow, context("party-B"))
    maker = request_transaction(RequestTransaction(Narrowing()), uow, context("party-A"))
    assert [(t.transaction_id, t.tender_id, t.shown_side) for t in acceptor.transactions] == [("x1", "t1", None)]
    assert [t.shown_side for t in maker.transactions] == [Side.SELL]
    assert request_transaction(RequestTransaction(Narrowing()), uow, context("party-C")).transactions == ()


def test_a_transaction_list_longer_than_the_limit_says_so(uow):
    tender(uow)
    create_transaction(
        CreateTransaction("party-A", (accept("x1", "t1", kw="1"), accept("x2", "t1", kw="1"))), uow, context("party-B", "a1")
    )
    listed = request_transaction(RequestTransaction(Narrowing()), uow, context("party-B", max_items=1))
    assert len(listed.transactions) == 1 and listed.description.startswith("OK: the first 1 matches")


# ---------------------------------------------------------------- EiRequestPosition


def test_positions_are_profiled_and_transport_combined_into_delivered_energy(uow):
    create_tender(
        CreateTender("party-B", (offer("e1", node="NODE-2"), offer("tr1", receipt="NODE-2", node="NODE-3", price="0.01"))),
        uow, context("party-A"),
    )
    bought = (accept("x1", "e1", node="NODE-2", kw="5"), accept("x2", "tr1", receipt="NODE-2", node="NODE-3", kw="5", price="0.01"))
    create_transaction(CreateTransaction("party-A", bought), uow, context("party-B", "a1"))
    window = Interval(START - HOUR, START + 2 * HOUR)
    report = request_position(RequestPosition(window, HOUR, combine_transport=True), uow, context("party-B"))
    rates = {(key.product_kind, key.receipt_node, key.delivery_node): [s.rate_kw for s in steps] for key, steps in report.positions}
    assert rates[("energy", "", "NODE-2")] == [0, -5, 0]
    assert rates[("transport", "NODE-2", "NODE-3")] == [0, -5, 0]
    assert rates[("delivered", "", "NODE-3")] == [0, -5, 0]  # bought at NODE-2, moved to NODE-3
    assert rates[("delivered", "", "NODE-2")] == [0, 0, 0]


# ---------------------------------------------------------------- EiExerciseOption

CALL = OptionTerms(OptionType.CALL, Side.BUY, Decimal("0.10"))


@pytest.fixture
def option(uow):
    """party-A writes a 10 kW call on 10:00-14:00, strike 0.10; party-B holds it as opt-x."""
    tender(uow, "opt-1", option=CALL, hours=4, price="0.01")
    holding = accept("opt-x", "opt-1", hours=4, price="0.01", option=CALL)
    create_transaction(CreateTransaction("party-A", (holding,)), uow, context("party-B", "a1"))
    return "opt-x"


def asked(transaction_id: str, hour: int, kw: str, hours: int = 1) -> ExerciseAsked:
    return ExerciseAsked(
        transaction_id, START + hour * HOUR, f"PT{hours}H", "temix:exercise/min:duration (line 1)",
        Decimal(kw), kw, "temix:exercise/emix:quantity (line 2)",  # W at the option's scale (k)
    )


def exercise(uow, *exercises, party="party-B", writer="party-A", option_id="opt-x", now=NOW):
    ctx = context(party, "e1", now)
    return exercise_option(ExerciseOption(writer, option_id, exercises), uow, ctx), ctx


def test_the_holder_exercises_a_call_and_buys_at_the_strike(uow, option):
    result, ctx = exercise(uow, asked("ex-1", 1, "6", hours=2))
    assert result.transaction_ids == ("ex-1",)
    [made] = [row.made for row in uow.transactions.rows if row.made.option_pk is not None]
    assert (made.product.terms.side, made.product.terms.price_per_kwh, made.product.terms.quantity_kw) == (
        Side.BUY, Decimal("0.10"), Decimal(6)
    )
    assert made.product.transactive_state == "exercise" and made.stored_form == b"<exercised ex-1>"
    [(option_form, interval, quantity_text, side, uid)] = ctx.forms.made
    assert (option_form, interval.start, quantity_text, side) == (b"<product opt-x>", START + HOUR, "6", Side.BUY)


def test_exercising_an_unknown_option_is_refused_with_404(uow, option):
    refused("404", exercise, uow, asked("ex-1", 1, "1"), option_id="opt-y")


def test_the_writer_may_not_exercise_with_403(uow, option):
    error = refused("403", exercise, uow, asked("ex-1", 1, "1"), party="party-A", writer="party-B")
    assert "only its holder" in error.description


@pytest.mark.parametrize("late", [dict(hour=0, now=START - HOUR / 2), dict(hour=4, now=NOW)])
def test_an_exercise_too_late_or_outside_the_option_is_refused_with_400(uow, option, late):
    refused("400", exercise, uow, asked("ex-1", late["hour"], "1"), now=late["now"])


def test_an_exercise_duration_the_market_does_not_take_names_where_it_stands(uow, option):
    bad = replace(asked("ex-1", 1, "1"), duration_text="P1Y2Q")
    error = refused("400", exercise, uow, bad)
    assert error.description.endswith("at temix:exercise/min:duration (line 1)")


def test_exercises_beyond_the_option_rate_are_refused_with_460(uow, option):
    exercise(uow, asked("ex-1", 1, "6"))
    refused("460", exercise, uow, asked("ex-2", 1, "5"))


def test_an_exercise_transactionid_used_before_is_refused_with_409(uow, option):
    exercise(uow, asked("ex-1", 1, "1"))
    refused("409", exercise, uow, asked("ex-1", 2, "1"))


def test_an_option_in_an_unregistered_market_context_is_refused_with_462(uow, option):
    MARKETS.pop(CTX)
    try:
        refused("462", exercise, uow, asked("ex-1", 1, "1"))
    finally:
        MARKETS[CTX] = MarketContext(CTX, currency="USD")
