"""The stored forms of an imbalance transaction: built from one template per interface and
duration, with the figures of each transaction put in."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from lxml import etree

from service.domain.intervals import Interval
from service.domain.tenders import Interface, Side, Terms
from service.soap.ns import EMIX, MIN, POWER, q
from service.soap.settlement import SettlementForms

START = datetime(2031, 6, 2, 9, 15, tzinfo=UTC)


def _terms(node="N&<1>", side=Side.BUY, start=START, price="0.125", rate="2.5", currency="EUR"):
    return Terms(
        side=side, interface=Interface(node), market_context="urn:ctx?a=1&b=2",
        interval=Interval(start, start + timedelta(minutes=15)), price_per_kwh=Decimal(price),
        quantity_kw=Decimal(rate), currency=currency,
    )


def _figures(form: bytes) -> dict:
    product = etree.fromstring(form)
    power = product.find(q(POWER, "temixPower"))
    return {
        "start": product.findtext(f"{q(MIN, 'dtStart')}/{q(MIN, 'dateTime')}"),
        "duration": product.findtext(q(MIN, "duration")),
        "node": "".join(power.find(q(EMIX, "price")).getprevious().itertext()),
        "price": power.findtext(f"{q(EMIX, 'price')}/{q(EMIX, 'value')}"),
        "quantity": power.findtext(q(EMIX, "quantity")),
        "currency": product.findtext(q(EMIX, "currency")),
        "market_context": product.findtext(q(EMIX, "marketContext")),
        "side": product.findtext(q(EMIX, "side")),
        "state": product.findtext(q(EMIX, "transactiveState")),
    }


def test_each_form_carries_its_own_figures_and_the_two_sides_differ_only_in_side():
    first, later = _terms(), _terms(side=Side.SELL, start=START + timedelta(hours=1), price="-0.3", rate="0.04")
    SettlementForms.delivery(first)  # the template is made here and reused below
    party, balancing = SettlementForms.delivery(later)
    assert _figures(party) == {
        "start": "2031-06-02T10:15:00Z", "duration": "PT15M", "node": "N&<1>", "price": "-0.3", "quantity": "0.01",
        "currency": "EUR", "market_context": "urn:ctx?a=1&b=2", "side": "sell", "state": "delivery",
    }
    assert _figures(balancing) == dict(_figures(party), side="buy")
    assert party.replace(b">sell<", b">buy<") == balancing


def test_a_form_without_a_currency_names_none():
    party, _ = SettlementForms.delivery(_terms(currency=None))
    assert _figures(party)["currency"] is None and _figures(party)["price"] == "0.125"
