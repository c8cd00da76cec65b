"""Conformance: the TeMIX trading rules (tenders, acceptance, positions, quotes, options)."""

from __future__ import annotations

from decimal import Decimal

from service.soap.ns import EI, EMIX, q
from service.store.tables import transaction
from tests.support import messages as msg
from tests.support import option_messages as opt
from tests.support.conformance import accept, count, hourly_rates, listed_ids, offer, remaining_kw


def test_a_tender_is_never_accepted_for_more_than_it_offers(service, engine):
    """README: "A tender is never accepted for more than it offers, whatever the concurrency."
    and "one asking more than remains gets 460"."""
    offer(service, "t-10kw")
    assert accept(service, "take-6", "t-10kw", quantity="6").code == "200"
    refused = accept(service, "take-6-more", "t-10kw", quantity="6")
    assert refused.code == "460", refused.description
    assert remaining_kw(engine, "t-10kw") == Decimal(4)
    assert accept(service, "take-the-rest", "t-10kw", quantity="4").code == "200"
    assert remaining_kw(engine, "t-10kw") == Decimal(0)
    assert accept(service, "take-more", "t-10kw", quantity="1").code == "410"  # used up: no longer standing


def test_accepting_takes_the_opposite_side(service):
    """TeMIX / README: "Accepting a tender makes a transaction: the acceptor takes the opposite
    side" -- a sell tender is accepted as a buy, and each party sees its own side."""
    offer(service, "t-sell")
    same_side = accept(service, "as-seller", "t-sell", side="sell")
    assert same_side.code == "412", same_side.description
    assert accept(service, "as-buyer", "t-sell", quantity="3").code == "200"
    for party, side in (("party-B", "buy"), ("party-A", "sell")):
        listed = service.call("/EiTransaction", msg.request_transaction(f"list-{party}", party))
        assert [e.text for e in listed.payload.iter(q(EMIX, "side"))] == [side], party


def test_position_is_sells_less_buys(service):
    """README: "A party's position for an interface and interval is the sum of the rates of its
    transactions covering that interval, sells less buys." """
    offer(service, "t-a-sells-4")
    assert accept(service, "b-buys-4", "t-a-sells-4", quantity="4").code == "200"
    offer(service, "t-b-sells-1", msg.product(quantity="1", price="0.12"), party="party-B", to="party-A")
    assert accept(service, "a-buys-1", "t-b-sells-1", quantity="1", party="party-A", maker="party-B", price="0.12").code == "200"
    # 09:00-13:00 by the hour: only 10:00-11:00 carries the transactions
    assert hourly_rates(service, "party-A") == [0, 3, 0, 0]
    assert hourly_rates(service, "party-B") == [0, -3, 0, 0]


def test_an_integral_only_tender_fills_whole_or_not_at_all(service, engine):
    """README: "the acceptor takes the opposite side for all of the tendered rate or a part of
    it (all of it if the tender is integral-only)"; a part of one is refused with 460."""
    offer(service, "t-whole", msg.product(integral_only="true"))
    part = accept(service, "take-part", "t-whole", quantity="4")
    assert part.code == "460", part.description
    assert remaining_kw(engine, "t-whole") == Decimal(10) and count(engine, transaction) == 0
    assert accept(service, "take-whole", "t-whole", quantity="10").code == "200"
    assert remaining_kw(engine, "t-whole") == Decimal(0)


def test_a_quote_is_not_actionable(service, engine):
    """README: "A *quote* (transactive state `indicationOfInterest`) looks the same but is not
    actionable" -- accepting it is refused with 461 and makes no transaction."""
    offer(service, "t-quote", msg.product(state="indicationOfInterest"))
    refused = accept(service, "take-quote", "t-quote", quantity="1")
    assert refused.code == "461", refused.description
    assert count(engine, transaction) == 0


def test_trading_on_an_interval_closes_when_it_begins(service, clock):
    """README: a standing tender is one whose "delivery [has] not yet started: trading on an
    interval closes when it begins"; accepting it then is refused with 410."""
    offer(service, "t-closing")
    clock.now = clock.now.replace(year=2030, month=1, day=1, hour=10)  # the delivery starts
    assert accept(service, "too-late", "t-closing", quantity="1").code == "410"
    listed = service.call("/EiTender", msg.request_tender("list-late", "party-B"))
    assert listed_ids(listed) == []


def test_a_tender_is_seen_by_its_parties_never_by_another_pair(service):
    """README, EiRequestTender: the requestor sees "its own, those addressed to it, and those
    distributed to it; never another pair's." """
    offer(service, "t-a-to-b")
    for party, seen in (("party-A", ["t-a-to-b"]), ("party-B", ["t-a-to-b"]), ("party-C", [])):
        listed = service.call("/EiTender", msg.request_tender(f"list-{party}", party))
        assert listed.code == "200" and listed_ids(listed) == seen, party
    stranger = accept(service, "c-takes", "t-a-to-b", quantity="1", party="party-C")
    assert stranger.code == "403", stranger.description


def test_only_the_holder_exercises_an_option_and_never_beyond_its_rate(service):
    """README, EiExerciseOption: "Refused: ... a rate that with the earlier exercises would
    exceed the option's at any instant (460), anyone but the holder (403)." """
    offer(service, "opt-1", opt.option())
    held = service.call("/EiTransaction", msg.create_transaction(
        "buy-opt", "party-B", "party-A", ("opt-x", "opt-1", opt.option(side="buy", state="transaction"))
    ))
    assert held.code == "200", held.description
    writer = service.call("/EiTransaction", opt.exercise_option("ex-writer", "party-A", "party-B", "opt-x", ("ex-a", "2030-01-01T10:00:00Z", "PT1H", "1")))
    assert writer.code == "403", writer.description
    ok = service.call("/EiTransaction", opt.exercise_option("ex-1", "party-B", "party-A", "opt-x", ("ex-b1", "2030-01-01T10:00:00Z", "PT1H", "6")))
    assert ok.code == "200", ok.description
    beyond = service.call("/EiTransaction", opt.exercise_option("ex-2", "party-B", "party-A", "opt-x", ("ex-b2", "2030-01-01T10:00:00Z", "PT1H", "5")))
    assert beyond.code == "460", beyond.description
    assert [e.text for e in ok.payload.iter(q(EI, "transactionID"))] == ["ex-b1"]
