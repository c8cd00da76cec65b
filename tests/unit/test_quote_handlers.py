"""EiCreateQuote, EiCancelQuote, EiRequestQuote and the published trade prices, on the fake
unit of work: the rules without a database."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from service.domain.commands import CreateTransaction, DistributionScope, Narrowing
from service.domain.quotes import (
    CancelQuote,
    CreateQuote,
    Quote,
    RequestQuote,
    ShownQuote,
    TradePrice,
)
from service.handlers.quotes import cancel_quote, create_quote, request_quote
from service.handlers.transactions import create_transaction
from tests.unit.fake_uow import FakeUnitOfWork, Party
from tests.unit.test_handlers import CTX, HOUR, NOW, START, accept, context, product, refused, tender


@pytest.fixture
def uow() -> FakeUnitOfWork:
    parties = {
        "party-A": Party({CTX}),
        "party-B": Party({CTX}),
        "party-C": Party({CTX}, groups={"north"}),
        "party-D": Party(),  # in no market context
    }
    return FakeUnitOfWork(parties)


def quote(quote_id="q1", *products_kw, state="indicationOfInterest") -> Quote:
    products = [product(state=state, **kw) for kw in (products_kw or ({},))]
    return Quote(quote_id, tuple(products), tuple(f"<p {quote_id} {i}/>".encode() for i in range(len(products))))


def post(uow, *quotes, to="party-B", party="party-A", scope=DistributionScope(), request_id="r1"):
    return create_quote(CreateQuote(to, quotes, scope), uow, context(party, request_id))


def listed(uow, requestor, publisher, **narrowing):
    return list(request_quote(RequestQuote(publisher, Narrowing(**narrowing)), uow, context(requestor)).quotes)


# ---------------------------------------------------------------- EiCreateQuote


def test_a_quote_to_a_party_is_seen_by_it_and_its_publisher_only(uow):
    assert post(uow, quote("q1"), quote("q2", state="publication")).quote_ids == ("q1", "q2")
    assert [shown.quote_id for shown in listed(uow, "party-B", "party-A")] == ["q1", "q2"]
    assert [shown.quote_id for shown in listed(uow, "party-A", "party-A")] == ["q1", "q2"]
    assert listed(uow, "party-C", "party-A") == []


def test_a_quote_keeps_every_product_it_was_sent_with(uow):
    post(uow, quote("q1", {}, {"start": START + HOUR}))
    (shown,) = listed(uow, "party-B", "party-A")
    assert shown == ShownQuote("q1", b"<p q1 0/><p q1 1/>")


def test_a_quote_to_a_market_context_reaches_its_parties_but_the_publisher(uow):
    post(uow, quote("q1"), to=CTX)
    assert [uow.tenders.distributions[1]] == [["party-B", "party-C"]]
    assert len(listed(uow, "party-C", "party-A")) == 1
    assert listed(uow, "party-D", "party-A") == []


def test_a_scope_narrows_a_market_wide_quote(uow):
    post(uow, quote("q1"), to=CTX, scope=DistributionScope(groups=("north",)))
    assert listed(uow, "party-B", "party-A") == []
    assert len(listed(uow, "party-C", "party-A")) == 1


def test_a_scope_on_a_quote_to_one_party_is_refused_with_400(uow):
    refused("400", post, uow, quote("q1"), scope=DistributionScope(groups=("north",)))


def test_a_market_wide_quote_that_reaches_nobody_is_refused_with_404(uow):
    refused("404", post, uow, quote("q1"), to=CTX, scope=DistributionScope(groups=("south",)))


def test_a_quote_in_state_tender_is_refused_with_400_naming_it(uow):
    error = refused("400", post, uow, quote("q1", state="tender"))
    assert "'tender'" in error.description and "q1" in error.description


def test_a_quote_to_yourself_is_refused_with_400(uow):
    refused("400", post, uow, quote("q1"), to="party-A")


def test_a_quote_to_an_unregistered_party_is_refused_with_404(uow):
    refused("404", post, uow, quote("q1"), to="party-Z")


def test_a_publisher_outside_the_market_context_is_refused_with_403(uow):
    refused("403", post, uow, quote("q1"), party="party-D", to="party-B")


def test_a_quote_expired_on_arrival_is_refused_with_400(uow):
    refused("400", post, uow, quote("q1", {"expires_at": NOW}))


def test_a_quoteid_used_twice_is_refused_with_409(uow):
    refused("409", post, uow, quote("q1"), quote("q1"))
    post(uow, quote("q1"))
    refused("409", post, uow, quote("q1"), request_id="r2")


# ---------------------------------------------------------------- EiCancelQuote


def test_a_cancelled_quote_is_no_longer_listed_and_cannot_be_cancelled_again(uow):
    post(uow, quote("q1"), quote("q2"))
    cancel_quote(CancelQuote(("q1", "q1")), uow, context("party-A"))
    assert [shown.quote_id for shown in listed(uow, "party-B", "party-A")] == ["q2"]
    refused("410", cancel_quote, CancelQuote(("q1",)), uow, context("party-A"))


def test_cancelling_anothers_or_an_unknown_quote_is_refused_with_404_and_cancels_nothing(uow):
    post(uow, quote("q1"))
    refused("404", cancel_quote, CancelQuote(("q1",)), uow, context("party-B"))
    refused("404", cancel_quote, CancelQuote(("q1", "nope")), uow, context("party-A"))
    refused("404", cancel_quote, CancelQuote(("q1",), subscriber_id="party-C"), uow, context("party-A"))
    assert len(listed(uow, "party-B", "party-A")) == 1


# ---------------------------------------------------------------- EiRequestQuote


def test_a_request_is_bounded_by_the_max_items_and_says_so(uow):
    post(uow, *(quote(f"q{i}") for i in range(3)))
    found = request_quote(RequestQuote("party-A", Narrowing()), uow, replace(context("party-B"), max_items=2))
    assert len(found.quotes) == 2 and "more exist" in found.description


def test_an_unknown_publisher_is_refused_with_404_and_a_foreign_market_context_with_403(uow):
    refused("404", request_quote, RequestQuote("party-Z", Narrowing()), uow, context("party-B"))
    refused("403", request_quote, RequestQuote(CTX, Narrowing()), uow, context("party-D"))


# ---------------------------------------------------------------- quotes are never actionable


def test_a_transaction_naming_a_quote_is_refused_with_461(uow):
    post(uow, quote("q1"))
    error = refused("461", create_transaction, CreateTransaction("party-A", (accept("x1", "q1"),)), uow, context("party-B"))
    assert "quote" in error.description


# ---------------------------------------------------------------- published trade prices


def test_each_acceptance_publishes_last_price_vwap_and_energy_without_names(uow):
    tender(uow, "t1", price="0.10")
    tender(uow, "t2", price="0.20", to="party-C")
    create_transaction(CreateTransaction("party-A", (accept("x1", "t1", kw="2", price="0.10"),)), uow, context("party-B"))
    create_transaction(CreateTransaction("party-A", (accept("x2", "t2", kw="6", price="0.20"),)), uow, context("party-C"))
    (price,) = listed(uow, "party-B", CTX)
    assert isinstance(price, TradePrice)
    assert price.traded.last_price_per_kwh == Decimal("0.20")
    assert price.traded.energy_kwh == Decimal("8")
    assert price.traded.vwap == Decimal("0.175")  # (2 x 0.10 + 6 x 0.20) / 8
    assert "party" not in repr(price.key)
