"""The products settlement reads and makes (``service.handlers.settlement.SettlementForms``):
prices out of a balancing party's stored quotes, and the stored form of an imbalance
transaction.

An imbalance transaction's product is an emix:product with transactive state ``delivery``,
its price per kWh and its emix:quantity the imbalance energy in kWh (power:energyReal with
siScaleCode k and no power item, as a published price's energy): a meter measures energy, and
its power attributes (hertz, voltage) are unknown. The rate (energy / duration) is the
transaction row's, as positions use it.
"""

from __future__ import annotations

from functools import lru_cache

from lxml import etree

from service.domain.errors import TemixError
from service.domain.markets import MarketContext
from service.domain.settlement import DELIVERY_STATE
from service.domain.tenders import Terms
from service.domain.units import energy_kwh
from service.soap import mapping as m
from service.soap.ns import EMIX, MIN, POWER, q


class SettlementForms:
    @staticmethod
    def quoted_prices(product_xml: bytes, market: MarketContext) -> list[Terms]:
        """The terms of each product of a stored quote (its products one after another) that
        prices energy in this market context; products that do not read (another market
        context, a transport product) are skipped, not refused: a quote is no order."""
        holder = etree.fromstringlist([b"<stored>", product_xml, b"</stored>"])
        priced = []
        for product in holder:
            try:
                terms = m.read_product(product, lambda uri: market if uri == market.uri else _elsewhere(uri)).terms
            except TemixError:
                continue
            if terms.interface.receipt_node is None:
                priced.append(terms)
        return priced

    @staticmethod
    def delivery(terms: Terms) -> tuple[bytes, bytes]:
        """The stored forms (C14N) of an imbalance transaction on ``terms``: as its party sees
        it, and as the balancing party does (the other side). A run books thousands on a few
        interfaces: the form is built once per interface and duration, the figures put in."""
        pieces = _delivery_template(
            terms.interface.delivery_node, terms.interval.duration_text(), terms.currency, terms.market_context
        )
        figures = (
            m.format_instant(terms.interval.start).encode(),
            m.format_decimal(terms.price_per_kwh).encode(),
            m.format_decimal(energy_kwh(terms.quantity_kw, terms.interval)).encode(),
        )
        start, price, quantity, side, end = pieces
        common = (start, figures[0], price, figures[1], quantity, figures[2], side)
        return (
            b"".join((*common, terms.side.value.encode(), end)),
            b"".join((*common, terms.side.opposite.value.encode(), end)),
        )


# Placeholders for the figures of a delivery form (private-use characters: never in a name).
_SLOTS = tuple(f"\ue000{n}\ue000" for n in range(4))


@lru_cache(maxsize=256)
def _delivery_template(delivery_node: str, duration: str, currency: str | None, market_context: str) -> tuple[bytes, ...]:
    """An imbalance transaction's product (C14N) split at its start, price, quantity and
    side: the text around them, five pieces."""
    power = m.element(
        q(POWER, "temixPower"),
        None,
        m.interface_element("", delivery_node),
        m.element(q(EMIX, "price"), None, m.element(q(EMIX, "value"), _SLOTS[1])),
        m.kwh_item(),
        m.element(q(EMIX, "quantity"), _SLOTS[2]),
    )
    product = m.element(
        q(EMIX, "product"),
        None,
        m.element(q(MIN, "dtStart"), None, m.element(q(MIN, "dateTime"), _SLOTS[0])),
        m.element(q(MIN, "duration"), duration),
        power,
        m.element(q(EMIX, "uid"), "imbalance"),
        m.element(q(EMIX, "transactiveState"), DELIVERY_STATE),
        *([m.element(q(EMIX, "currency"), currency)] if currency else []),
        m.element(q(EMIX, "marketContext"), market_context),
        m.element(q(EMIX, "side"), _SLOTS[3]),
    )
    text = etree.tostring(product, method="c14n")
    pieces = []
    for slot in _SLOTS:
        before, _, text = text.partition(slot.encode())
        pieces.append(before)
    return (*pieces, text)


def _elsewhere(uri: str) -> MarketContext:
    from service.domain.errors import UnknownMarketContextError

    raise UnknownMarketContextError(f"{uri!r} is another market context")
