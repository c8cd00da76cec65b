"""Readers: payload -> command, on real XML files (schema-valid: tests/fixtures and the
schema set's examples), and the refusals product reading makes, naming where."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from service.config import REPO_ROOT
from service.domain.commands import DistributionScope
from service.domain.errors import InvalidValueError, TemixError, UnknownMarketContextError
from service.domain.intervals import Interval
from service.domain.markets import MarketContext
from service.domain.tenders import Interface, Side
from service.soap import readers
from service.soap.ns import EMIX, MIN, POWER, STRM, q
from service.soap.scope import SCOPE

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
EXAMPLES = REPO_ROOT / "schemas" / "oasis" / "examples"
CTX = "http://market.example.com/temix/ctx1"
MARKETS = {CTX: MarketContext(CTX, currency="USD")}


def market_of(uri: str) -> MarketContext:
    try:
        return MARKETS[uri]
    except KeyError:
        raise UnknownMarketContextError(f"Market context {uri!r} is not registered with this service") from None


READING = readers.Reading(market_of)


def payload(path: Path) -> etree._Element:
    return etree.parse(str(path)).getroot()


def product_of(tree: etree._Element) -> etree._Element:
    return tree.find(f".//{q(EMIX, 'product')}")


def test_create_tender_reads_the_example_into_an_offer():
    command = readers.create_tender(payload(EXAMPLES / "eiCreateTender-minimal.xml"), READING)
    assert command.counterparty_id == "party-B"
    [offer] = command.offers
    terms = offer.product.terms
    assert offer.tender_id == "tender-0001"
    assert (terms.side, terms.interface, terms.currency) == (Side.BUY, Interface("NODE-2", "NODE-1"), "USD")
    assert terms.interval == Interval(datetime(2025, 1, 1, 10, tzinfo=UTC), datetime(2025, 1, 1, 11, tzinfo=UTC))
    assert (terms.quantity_kw, terms.price_per_kwh) == (Decimal(10), Decimal("0.05"))
    assert offer.product.expires_at == datetime(2025, 1, 1, 9, 55, tzinfo=UTC)
    assert offer.stored_form.startswith(b"<emix:product") and b"tender-0001" not in offer.stored_form


def test_create_transaction_reads_each_acceptance_with_its_stored_product():
    command = readers.create_transaction(payload(EXAMPLES / "eiCreateTransaction-minimal.xml"), READING)
    assert command.maker_id == "party-A"
    [acceptance] = command.acceptances
    assert (acceptance.transaction_id, acceptance.tender_id) == ("txn-0001", "tender-0001")
    assert acceptance.product.transactive_state == "transaction"
    # the stored form declares only the namespaces the product uses
    assert b"xmlns:pyld" not in acceptance.stored_form and b"xmlns:power" in acceptance.stored_form


def test_distribute_tender_takes_the_scope_read_from_its_header():
    tree = payload(EXAMPLES / "eiCreateTender-minimal.xml")
    scope = DistributionScope(groups=("north",))
    command = readers.distribute_tender(tree, readers.Reading(market_of, {SCOPE: scope}))
    assert command.scope == scope and [offer.tender_id for offer in command.offers] == ["tender-0001"]
    assert readers.distribute_tender(tree, READING).scope == DistributionScope()


def test_request_tender_reads_every_filter():
    narrowing = readers.request_tender(payload(FIXTURES / "eiRequestTender.xml"), READING).narrowing
    assert narrowing.counterparty_ids == ("party-A",) and narrowing.market_contexts == (CTX,)
    assert narrowing.ids == ("tender-0001",)
    assert narrowing.intervals == (
        Interval(datetime(2030, 1, 1, 10, tzinfo=UTC), datetime(2030, 1, 1, 11, tzinfo=UTC)),
        Interval(datetime(2030, 1, 1, 23, tzinfo=UTC), datetime(2030, 1, 2, 1, tzinfo=UTC)),
    )


def test_request_position_reads_window_grid_interface_and_combining():
    command = readers.request_position(payload(FIXTURES / "eiRequestPosition.xml"), READING)
    assert command.window == Interval(datetime(2030, 1, 1, tzinfo=UTC), datetime(2030, 1, 2, tzinfo=UTC))
    assert (command.step, command.product_kind, command.interface) == (timedelta(hours=1), "transport", ("NODE-1", "NODE-2"))
    assert command.market_contexts == (CTX,) and command.combine_transport


def test_request_position_refuses_a_grid_finer_than_the_service_profiles():
    tree = payload(FIXTURES / "eiRequestPosition.xml")
    tree.find(f".//{q(MIN, 'duration')}").text = "P400D"
    tree.find(".//{urn:temix:ei-ext:2026-11}resolution").text = "PT1M"
    with pytest.raises(InvalidValueError, match="More than 10000 steps"):
        readers.request_position(tree, READING)


def test_exercise_option_reads_each_exercise_in_utc_with_where_it_stands():
    command = readers.exercise_option(payload(FIXTURES / "eiExerciseOption.xml"), READING)
    assert (command.writer_id, command.option_id) == ("party-A", "opt-x")
    first, second = command.exercises
    assert (first.transaction_id, first.start, first.duration_text) == ("ex-1", datetime(2030, 1, 1, 11, tzinfo=UTC), "PT2H")
    assert (first.quantity, first.quantity_text) == (Decimal(6), "6")
    assert first.quantity_at.endswith("(line 18)") and first.duration_at.endswith("(line 17)")
    assert second.quantity == Decimal("0.5")


def test_an_exercise_start_without_a_time_zone_is_refused_naming_the_duration():
    tree = payload(FIXTURES / "eiExerciseOption.xml")
    tree.find(f".//{q(MIN, 'dateTime')}").text = "2030-01-01T12:00:00"
    with pytest.raises(InvalidValueError, match=r"has no time zone .* at .*}duration \(line 17\)$"):
        readers.exercise_option(tree, READING)


# ---------------------------------------------------------------- product reading


def refusal(mutate) -> TemixError:
    tree = payload(EXAMPLES / "eiCreateTender-minimal.xml")
    mutate(product_of(tree))
    with pytest.raises(TemixError) as raised:
        readers.create_tender(tree, READING)
    return raised.value


def test_a_quantity_that_is_not_a_number_is_refused_where_it_stands():
    error = refusal(lambda p: setattr(p.find(f".//{q(EMIX, 'quantity')}"), "text", "ten"))
    assert error.response_code == "400"
    assert error.description.startswith("Not a number: 'ten' at ") and error.description.endswith("}quantity (line 36)")


def test_a_product_with_several_intervals_is_refused():
    error = refusal(lambda p: p.append(etree.Element(q(STRM, "intervals"))))
    assert "one delivery interval" in error.description


def test_a_currency_other_than_the_market_contexts_is_refused():
    MARKETS[CTX] = MarketContext(CTX, currency="EUR")
    try:
        error = refusal(lambda p: None)
    finally:
        MARKETS[CTX] = MarketContext(CTX, currency="USD")
    assert error.description.startswith(f"Market context {CTX!r} trades in EUR, not USD at ")


def test_an_unregistered_market_context_is_refused_with_462():
    error = refusal(lambda p: setattr(p.find(q(EMIX, "marketContext")), "text", "http://nowhere.example/"))
    assert error.response_code == "462"


def test_reactive_power_is_refused_naming_what_temix_trades():
    def reactive(product):
        real = product.find(f".//{q(POWER, 'powerReal')}")
        real.tag = q(POWER, "powerReactive")

    error = refusal(reactive)
    assert error.description.startswith("TeMIX trades real power: power:powerReal is required at ")


def test_a_rate_in_megawatts_is_read_in_kilowatts():
    tree = payload(EXAMPLES / "eiCreateTender-minimal.xml")
    tree.find(f".//{q('http://docs.oasis-open.org/ns/emix/2011/06/siscale', 'siScaleCode')}").text = "M"
    [offer] = readers.create_tender(tree, READING).offers
    assert (offer.product.terms.quantity_kw, offer.product.rate_scale) == (Decimal(10000), "M")
