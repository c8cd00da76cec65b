"""EiQuote at the edge: payloads -> quote commands (readers), quote results -> replies
(writer parts).

A quote's products are read as tenders' are (``mapping.read_product``) and kept as sent. A
published trade price is shown as an ei:eiQuote of two emix:product, both with transactive
state ``publication``, its key's interface and delivery interval, and prices per kWh
(power:energyReal with siScaleCode k):

* emix:uid ``last``: emix:price is the last traded price;
* emix:uid ``vwap``: emix:price is the volume-weighted average price and emix:quantity the
  traded energy in kWh (power:energyReal, no power item: the quantity is energy).

emix:side is required by the schema and means nothing in a publication: it is ``sell``.
"""

from __future__ import annotations

from decimal import Decimal

from lxml import etree

from service.domain.commands import DistributionScope
from service.domain.intervals import Interval
from service.domain.units import plain
from service.domain.quotes import (
    PUBLICATION,
    CancelQuote,
    CreateQuote,
    Quote,
    RequestQuote,
    ShownQuote,
    TradePrice,
)
from service.soap import mapping as m
from service.soap.ns import EI, EMIX, MIN, POWER, q
from service.soap.readers import Reading, narrowing
from service.soap.scope import SCOPE
from service.soap.stored import stored_form

QUOTE_ID = q(EI, "quoteID")

# ---------------------------------------------------------------- readers


def create_quote(payload: etree._Element, reading: Reading) -> CreateQuote:
    quotes = []
    for element in payload.iter(q(EI, "eiQuote")):
        quote_id = m.text_of(element, QUOTE_ID)
        products = [child for child in element if child.tag != QUOTE_ID]
        quotes.append(Quote(
            quote_id,
            tuple(m.read_product(product, reading.market_of) for product in products),
            tuple(stored_form(product) for product in products),
        ))
    subscriber_id = m.text_of(payload, q(EI, "subscriberPartyID"))
    return CreateQuote(subscriber_id, tuple(quotes), reading.headers.get(SCOPE, DistributionScope()))


def cancel_quote(payload: etree._Element, reading: Reading) -> CancelQuote:
    return CancelQuote(tuple(m.texts(payload, QUOTE_ID)), m.child_text(payload, q(EI, "subscriberPartyID")))


def request_quote(payload: etree._Element, reading: Reading) -> RequestQuote:
    return RequestQuote(m.text_of(payload, q(EI, "publisherPartyID")), narrowing(payload, QUOTE_ID))


# ---------------------------------------------------------------- writer parts


def subscriber(node, answer, result) -> None:
    """ei:subscriberPartyID as the request named it (required in eiCreatedQuote)."""
    node.append(m.element(q(EI, "subscriberPartyID"), answer.counterparty_id or ""))


def subscriber_if_named(node, answer, result) -> None:
    if answer.counterparty_id is not None:
        subscriber(node, answer, result)


def publisher(node, answer, result) -> None:
    node.append(m.element(q(EI, "publisherPartyID"), answer.party_id))


def quotes(node, answer, result) -> None:
    """ei:eiQuote items: each quote's products as stored, or a trade price's two products."""
    if result is None:
        return
    shown = [item for item in result.quotes if isinstance(item, ShownQuote)]
    stored = iter(_stored_quotes([item.stored_form for item in shown]))
    for item in result.quotes:
        quote = etree.SubElement(node, q(EI, "eiQuote"))
        etree.SubElement(quote, QUOTE_ID).text = item.quote_id
        if isinstance(item, TradePrice):
            quote.extend(_published(item))
        else:
            quote.extend(list(next(stored)))


def _stored_quotes(forms: list[bytes]) -> list[etree._Element]:
    """Each quote's stored products under one element, all parsed as one document."""
    if not forms:
        return []
    return list(etree.fromstringlist([b"<stored>", *(b"<q>" + form + b"</q>" for form in forms), b"</stored>"]))


def _published(price: TradePrice) -> list[etree._Element]:
    traded = price.traded
    return [
        _price_product(price, "last", traded.last_price_per_kwh, None),
        _price_product(price, "vwap", traded.vwap, traded.energy_kwh),
    ]


def _text(value: Decimal) -> str:
    """All of a decimal's digits (a VWAP may have 50), without exponent or trailing zeros."""
    return format(plain(value), "f")


def _price_product(price: TradePrice, uid: str, per_kwh: Decimal, energy_kwh: Decimal | None) -> etree._Element:
    key = price.key
    power = m.element(
        q(POWER, "temixPower"),
        None,
        m.interface_element(key.receipt_node, key.delivery_node),
        m.element(q(EMIX, "price"), None, m.element(q(EMIX, "value"), _text(per_kwh))),
        m.kwh_item(),
    )
    if energy_kwh is not None:
        power.append(m.element(q(EMIX, "quantity"), _text(energy_kwh)))
    interval_start = m.element(q(MIN, "dtStart"), None, m.element(q(MIN, "dateTime"), m.format_instant(key.start)))
    duration = Interval.trusted(key.start, key.end).duration_text()
    return m.element(
        q(EMIX, "product"),
        None,
        interval_start,
        m.element(q(MIN, "duration"), duration),
        power,
        m.element(q(EMIX, "uid"), uid),
        m.element(q(EMIX, "transactiveState"), PUBLICATION),
        *([m.element(q(EMIX, "currency"), key.currency)] if key.currency else []),
        m.element(q(EMIX, "marketContext"), key.market_context),
        m.element(q(EMIX, "side"), "sell"),
    )
