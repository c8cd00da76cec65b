"""EiRequestBook on a fake unit of work: the price levels a party enrolled in a market context
sees of its exchange's books, never names; the reader and the reply."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from lxml import etree

from service import pipeline
from service.domain.commands import Offer, RequestBook
from service.domain.errors import (
    InvalidValueError,
    NotPermittedError,
    UnknownMarketContextError,
)
from service.domain.intervals import Interval
from service.domain.markets import MarketContext
from service.domain.matching import PriceLevel, exchange_id
from service.handlers.exchange import request_book
from service.soap import readers
from service.soap.ns import TEMIX, q
from service.soap.writers import Answer
from tests.support import messages as msg
from tests.unit.fake_uow import FakeUnitOfWork, Party
from tests.unit.test_handlers import CTX, HOUR, NOW, START, context, product

EXCHANGE = exchange_id(CTX)


@pytest.fixture(scope="module")
def schemas():
    from service.config import SCHEMA_DIR
    from service.soap.schema import SchemaSet

    return SchemaSet(SCHEMA_DIR)


def uow_with(*orders) -> FakeUnitOfWork:
    """A market context with an exchange and these resting orders: (party, tenderID, product)."""
    parties = {name: Party(market_contexts={CTX}) for name in ("party-A", "party-B", EXCHANGE)}
    parties["party-X"] = Party()
    uow = FakeUnitOfWork(parties, market_contexts=(MarketContext(CTX, currency="USD", exchange=True),))
    for party, tender_id, made in orders:
        uow.tenders.add(party, f"r-{tender_id}", EXCHANGE, [Offer(tender_id, made, b"<p/>")])
    return uow


def levels(kw, price):
    return PriceLevel(Decimal(price), Decimal(kw), 1)


def test_levels_sum_the_orders_at_one_price_best_first_on_each_side():
    uow = uow_with(
        ("party-A", "s1", product("sell", "5", "0.10")),
        ("party-B", "s2", product("sell", "3", "0.09")),
        ("party-B", "s3", product("sell", "2", "0.10")),
        ("party-A", "b1", product("buy", "4", "0.07")),
        ("party-B", "b2", product("buy", "1", "0.08")),
    )
    found = request_book(RequestBook(CTX), uow, context("party-A"))
    (book,) = found.books
    assert book.key.delivery_node == "NODE-1" and book.key.start == START
    assert book.offers == (PriceLevel(Decimal("0.09"), Decimal(3), 1), PriceLevel(Decimal("0.10"), Decimal(7), 2))
    assert book.bids == (PriceLevel(Decimal("0.08"), Decimal(1), 1), PriceLevel(Decimal("0.07"), Decimal(4), 1))


def test_depth_keeps_the_best_levels_of_each_side():
    uow = uow_with(*[("party-A", f"s{i}", product("sell", "1", f"0.1{i}")) for i in range(4)])
    (book,) = request_book(RequestBook(CTX, depth=2), uow, context("party-B")).books
    assert [level.price_per_kwh for level in book.offers] == [Decimal("0.10"), Decimal("0.11")]


def test_filled_cancelled_expired_quoted_and_started_orders_are_not_shown():
    uow = uow_with(
        ("party-A", "filled", product("sell", "5", "0.10")),
        ("party-A", "part", product("sell", "5", "0.11")),
        ("party-A", "gone", product("sell", "5", "0.12")),
        ("party-A", "late", product("sell", "5", "0.13", expires_at=NOW)),
        ("party-A", "quote", product("sell", "5", "0.14", state="indicationOfInterest")),
        ("party-A", "started", product("sell", "5", "0.15", start=NOW - HOUR)),
    )
    rows = {row.tender.tender_id: row for row in uow.tenders.rows}
    rows["filled"].tender = replace(rows["filled"].tender, remaining_kw=Decimal(0))
    rows["part"].tender = replace(rows["part"].tender, remaining_kw=Decimal("1.5"))
    rows["gone"].tender = replace(rows["gone"].tender, cancelled=True)
    (book,) = request_book(RequestBook(CTX), uow, context("party-A")).books
    assert book.offers == (levels("1.5", "0.11"),) and book.bids == ()


def test_books_are_per_product_and_the_filters_narrow_them():
    later = START + 2 * HOUR
    uow = uow_with(
        ("party-A", "e1", product("sell", "1", "0.10")),
        ("party-A", "e2", product("sell", "1", "0.10", node="NODE-2")),
        ("party-A", "e3", product("sell", "1", "0.10", start=later)),
        ("party-A", "t1", product("sell", "1", "0.01", node="NODE-2", receipt="NODE-1")),
    )
    everything = request_book(RequestBook(CTX), uow, context("party-A")).books
    assert len(everything) == 4
    at_node = request_book(RequestBook(CTX, interface=("", "NODE-2")), uow, context("party-A")).books
    assert [(b.key.product_kind, b.key.delivery_node) for b in at_node] == [("energy", "NODE-2")]
    transport = request_book(RequestBook(CTX, product_kind="transport"), uow, context("party-A")).books
    assert [b.key.receipt_node for b in transport] == ["NODE-1"]
    window = Interval(later, later + timedelta(minutes=15))
    assert [b.key.start for b in request_book(RequestBook(CTX, window=window), uow, context("party-A")).books] == [later]


def test_a_party_not_enrolled_in_the_market_context_is_refused_with_403():
    with pytest.raises(NotPermittedError, match="not enrolled") as refused:
        request_book(RequestBook(CTX), uow_with(), context("party-X"))
    assert refused.value.response_code == "403"


def test_an_unregistered_market_context_is_refused_with_462():
    with pytest.raises(UnknownMarketContextError) as refused:
        request_book(RequestBook("urn:nowhere"), uow_with(), context("party-A"))
    assert refused.value.response_code == "462"


def test_more_levels_than_a_reply_holds_say_so():
    uow = uow_with(*[("party-A", f"s{i}", product("sell", "1", f"0.{10 + i}")) for i in range(5)])
    found = request_book(RequestBook(CTX, depth=50), uow, context("party-B", max_items=3))
    assert len(found.books[0].offers) == 3 and found.description.startswith("OK: the first 3")


def test_the_reader_takes_the_filters_and_the_depth(schemas):
    payload = msg.request_book("r1", "party-A", CTX, kind="transport", node="N2", receipt="N1",
                               start="2030-01-01T10:00:00Z", duration="PT2H", depth=7)
    assert schemas.errors(payload) == []
    assert readers.request_book(payload, readers.Reading(lambda uri: None)) == RequestBook(
        CTX, "transport", ("N1", "N2"), Interval(START, START + 2 * HOUR), 7
    )
    bare = readers.request_book(msg.request_book("r1", "party-A", CTX), readers.Reading(lambda uri: None))
    assert bare == RequestBook(CTX)


def test_delivered_is_a_position_not_a_book():
    with pytest.raises(InvalidValueError, match="delivered"):
        readers.request_book(msg.request_book("r1", "party-A", CTX, kind="delivered"), readers.Reading(lambda uri: None))


def test_a_depth_beyond_fifty_is_not_schema_valid(schemas):
    assert schemas.errors(msg.request_book("r1", "party-A", CTX, depth=51)) != []


def test_the_reply_lists_levels_without_parties_or_tender_ids_and_is_schema_valid(schemas):
    uow = uow_with(
        ("party-A", "secret-tender", product("sell", "5", "0.10")),
        ("party-B", "b1", product("buy", "2", "0.08", node="NODE-2", receipt="NODE-1")),
    )
    found = request_book(RequestBook(CTX), uow, context("party-A"))
    reply = pipeline.OPERATIONS["EiRequestBook"].write(Answer("r1", "party-A", None), found)
    assert schemas.errors(reply) == []
    text = etree.tostring(reply).decode()
    assert "secret-tender" not in text and "party-B" not in text
    energy, transport = reply.findall(q(TEMIX, "book"))
    offer = energy.find(q(TEMIX, "offer"))
    assert [child.text for child in offer] == ["0.1", "5", "1"]
    assert energy.find(q(TEMIX, "bid")) is None and transport.find(q(TEMIX, "offer")) is None
    refused = pipeline.OPERATIONS["EiRequestBook"].write(Answer("r1", "party-A", None, code="403"), None)
    assert schemas.errors(refused) == [] and refused.find(q(TEMIX, "book")) is None


def test_the_readmes_example_is_what_the_service_reads_and_writes(schemas):
    from service.config import REPO_ROOT

    text = (REPO_ROOT / "README.md").read_text()
    section = text[text.index("**The book view: EiRequestBook**"):]
    section = section[: section.index("`temix demo` trades through the exchange")]
    envelope, written_reply = (
        etree.fromstring(block.split("```", 1)[0].replace("<wsse:Security>...</wsse:Security>", "").encode())
        for block in section.split("```xml\n")[1:]
    )
    payload = envelope.find("{http://schemas.xmlsoap.org/soap/envelope/}Body")[0]
    assert schemas.errors(payload) == [] and schemas.errors(written_reply) == []
    asked = readers.request_book(payload, readers.Reading(lambda uri: None))
    assert asked == RequestBook(CTX, interface=("", "NODE-1"), depth=2)
    uow = uow_with(
        ("party-A", "a1", product("sell", "5", "0.10")),
        ("party-C", "c1", product("sell", "5", "0.09")),
        ("party-A", "a2", product("sell", "4", "0.09")),
        ("party-B", "b1", product("buy", "1", "0.08")),
    )
    uow.parties["party-C"] = Party(market_contexts={CTX})
    reply = pipeline.OPERATIONS["EiRequestBook"].write(Answer("book-1", "party-B", None), request_book(asked, uow, context("party-B")))
    canonical = lambda e: etree.canonicalize(etree.tostring(e).decode(), strip_text=True, rewrite_prefixes=True)
    assert canonical(reply) == canonical(written_reply)
