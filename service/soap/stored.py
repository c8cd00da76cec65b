"""Products as the store keeps them: serialised once when a tender or transaction is made,
parsed back for list replies with the one figure that differs re-rendered in place (a tender's
remaining rate, a transaction's side as the other party sees it)."""

from __future__ import annotations

import copy
from decimal import Decimal
from functools import lru_cache

from lxml import etree

from service.domain import units
from service.domain.tenders import Side
from service.soap.mapping import exercised_product, format_decimal
from service.soap.ns import EMIX, POWER, SCALE, q

# What re-rendering changes in a stored product: read_product found both as direct children.
_PRODUCT_NS = {"emix": EMIX, "power": POWER}
QUANTITY_PATH = etree.XPath("/stored/*/power:temixPower/emix:quantity", namespaces=_PRODUCT_NS)
SIDE_PATH = etree.XPath("/stored/*/emix:side", namespaces=_PRODUCT_NS)


XSI = "http://www.w3.org/2001/XMLSchema-instance"
_XSI_TYPES = etree.XPath("descendant-or-self::*/@xsi:type", namespaces={"xsi": XSI})


def stored_form(product: etree._Element) -> bytes:
    """A product serialised for the store with only the namespace declarations it uses, not
    every one in scope in the request envelope: a copy declares only those (a fifth fewer
    bytes; list replies parse them faster). A product with an xsi:type is kept with
    all of them: the prefix in its value may be declared for nothing else."""
    if _XSI_TYPES(product):
        return etree.tostring(product)
    return etree.tostring(copy.deepcopy(product))


def stored_products(stored: list[bytes], path: etree.XPath) -> list[tuple[etree._Element, etree._Element]]:
    """Products as the store keeps them (each an element serialised by lxml), each with the
    element ``path`` finds in it. Parsed under one container, faster than a document
    each, and searched once for all rather than once per product."""
    holder = etree.fromstringlist([b"<stored>", *stored, b"</stored>"])
    found = {}
    for element in path(holder):
        product = element.getparent()
        while product.getparent() is not holder:
            product = product.getparent()
        found.setdefault(product, element)  # the first, as read_product took it
    return [(product, found[product]) for product in holder]


def with_quantity(stored: tuple[etree._Element, etree._Element], quantity_kw: Decimal, rate_scale: str) -> etree._Element:
    """A stored product and its emix:quantity (QUANTITY_PATH), re-rendered with another rate
    (the remaining one) in the party's unit."""
    product, quantity = stored
    quantity.text = rate_text(quantity_kw, rate_scale)
    return product


@lru_cache(maxsize=1024)  # a list of tenders repeats few remaining rates
def rate_text(quantity_kw: Decimal, rate_scale: str) -> str:
    return format_decimal(units.to_scale(quantity_kw, rate_scale))


def with_side(stored: tuple[etree._Element, etree._Element], side: Side) -> etree._Element:
    """A stored product and its emix:side (SIDE_PATH), re-rendered with that side."""
    product, side_element = stored
    side_element.text = side.value
    return product


class StoredForms:
    """The stored forms handlers need made (``service.handlers.ProductForms``)."""

    @staticmethod
    def exercised(option_form: bytes, interval, quantity_text: str, side: Side, uid: str) -> bytes:
        """The product an exercise makes, from the option's stored form, in C14N."""
        product = exercised_product(etree.fromstring(option_form), interval, quantity_text, side, uid)
        return etree.tostring(product, method="c14n")

    @staticmethod
    def filled(order_form: bytes, rate_scale: str, quantity_kw: Decimal, price_per_kwh: Decimal, side: Side,
               energy_scale: str) -> bytes:
        """The product of a fill of an order, from the order's stored form: the filled rate in
        the order's unit, the trade price per the order's energy unit (``energy_scale``: the
        market context's, unless the order names power:energyReal), transactive state
        transaction, on ``side``; no expiration. In C14N."""
        product = etree.fromstring(order_form)
        power = product.find(q(POWER, "temixPower"))
        energy = power.find(q(POWER, "energyReal"))
        if energy is not None:
            energy_scale = energy.findtext(q(SCALE, "siScaleCode")).strip()
        power.find(f"{q(EMIX, 'price')}/{q(EMIX, 'value')}").text = format_decimal(
            units.price_from_kwh(price_per_kwh, energy_scale)
        )
        power.find(q(EMIX, "quantity")).text = rate_text(quantity_kw, rate_scale)
        product.find(q(EMIX, "transactiveState")).text = "transaction"
        product.find(q(EMIX, "side")).text = side.value
        expiration = product.find(q(EMIX, "expirationDate"))
        if expiration is not None:
            product.remove(expiration)
        return etree.tostring(product, method="c14n")
