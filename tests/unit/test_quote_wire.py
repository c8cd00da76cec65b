"""EiQuote at the edge: payloads read into commands, results written as replies that validate,
products shown back as they were sent."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from service.config import REPO_ROOT, Settings
from service.domain.markets import MarketContext
from service.domain.quotes import QuoteList, ShownQuote, TradeKey, Traded, TradePrice
from service.pipeline import OPERATIONS
from service.soap import quotes as wire
from service.soap.ns import EI, EMIX, q
from service.soap.readers import Reading
from service.soap.schema import SchemaSet
from service.soap.stored import stored_form
from service.soap.writers import Answer
from tests.support import messages as msg
from tests.support import quote_messages as qm


@pytest.fixture(scope="module")
def schemas() -> SchemaSet:
    settings = Settings.from_env(environ={}, data_dir=Path("/nonexistent"), database_url="postgresql://unused/")
    return SchemaSet(settings.schema_dir, settings.schema_entry)


READING = Reading(lambda uri: MarketContext(uri, currency="USD"))


def test_the_readme_example_validates_and_reads_as_a_quote_to_the_market_context(schemas):
    text = (REPO_ROOT / "README.md").read_text()
    payload = etree.fromstring(re.search(r"```xml\n(<pyld:eiCreateQuote.*?)```", text, re.S).group(1))
    assert schemas.errors(payload) == []
    command = wire.create_quote(payload, READING)
    assert command.subscriber_id == "http://market.example.com/temix/ctx1"
    (quote,) = command.quotes
    assert quote.quote_id == "evening-1"
    assert [p.transactive_state for p in quote.products] == ["publication"]
    assert quote.products[0].terms.price_per_kwh == Decimal("0.21")


def test_a_quote_of_two_products_reads_both_and_keeps_them_as_sent():
    products = [msg.product(state="indicationOfInterest"), msg.product(state="publication", uid="p2")]
    command = wire.create_quote(qm.create_quote("r1", "party-A", "party-B", ("q1", products)), READING)
    (quote,) = command.quotes
    assert len(quote.products) == 2 and quote.stored_forms == tuple(stored_form(p) for p in products)


def test_request_and_cancel_read_their_filters():
    asked = wire.request_quote(qm.request_quote("r1", "party-B", "party-A", quote_ids=["q1"], intervals=[f"{msg.START}/PT1H"]), READING)
    assert asked.publisher_id == "party-A" and asked.narrowing.ids == ("q1",) and len(asked.narrowing.intervals) == 1
    cancel = wire.cancel_quote(qm.cancel_quote("r1", "party-A", "q1", "q2", subscriber="party-B"), READING)
    assert cancel.quote_ids == ("q1", "q2") and cancel.subscriber_id == "party-B"


def test_listed_quotes_show_their_products_as_sent_and_validate(schemas):
    products = [msg.product(state="indicationOfInterest"), msg.product(state="publication", uid="p2")]
    form = b"".join(stored_form(p) for p in products)
    reply = OPERATIONS["EiRequestQuote"].write(Answer("r1", "party-B", None), QuoteList((ShownQuote("q1", form),)))
    assert schemas.errors(reply) == []
    shown = reply.find(q(EI, "eiQuote"))
    assert shown.findtext(q(EI, "quoteID")) == "q1"
    sent = [etree.canonicalize(etree.tostring(p).decode(), rewrite_prefixes=True) for p in products]
    assert [etree.canonicalize(etree.tostring(p).decode(), rewrite_prefixes=True) for p in shown[1:]] == sent


def test_a_published_trade_price_shows_last_price_vwap_and_energy(schemas):
    key = TradeKey(msg.CTX, "energy", "", "NODE-1", datetime(2030, 1, 1, 10, tzinfo=UTC), datetime(2030, 1, 1, 11, tzinfo=UTC), "USD")
    price = TradePrice("trade-7", key, Traded(Decimal("0.2"), Decimal("3"), Decimal("0.4"), 2))
    reply = OPERATIONS["EiRequestQuote"].write(Answer("r1", "party-B", None), QuoteList((price,)))
    assert schemas.errors(reply) == []
    products = {p.findtext(q(EMIX, "uid")): p for p in reply.iter(q(EMIX, "product"))}
    assert products["last"].findtext(f".//{q(EMIX, 'value')}") == "0.2"
    assert products["last"].find(f".//{q(EMIX, 'quantity')}") is None
    assert products["vwap"].findtext(f".//{q(EMIX, 'value')}") == "0.1" + "3" * 49  # 50 significant digits
    assert products["vwap"].findtext(f".//{q(EMIX, 'quantity')}") == "3"
    assert {p.findtext(q(EMIX, "transactiveState")) for p in products.values()} == {"publication"}
