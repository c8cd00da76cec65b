"""XML <-> domain: reading EI payloads into domain values, and building EI responses.

Elements are built with lxml (never text templates). Every value the schema leaves open
but TeMIX constrains (durations, units, time zones, positive rates) is checked here and
refused with an InvalidValueError naming the element.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from datetime import datetime, tzinfo
from decimal import Decimal, InvalidOperation

from lxml import etree

from service.domain import units
from service.domain.errors import InvalidValueError
from service.domain.intervals import Interval, parse_duration, to_utc
from service.domain.markets import MarketContext
from service.domain.options import OptionTerms, option_type
from service.domain.products import Product
from service.domain.tenders import Interface, Side, Terms
from service.soap.ns import EI, EMIX, MIN, POWER, PYLD, SCALE, STRM, TEMIX, q

MarketOf = Callable[[str], MarketContext]  # raises UnknownMarketContextError

ONE_NODE_INTERFACES = {
    q(POWER, "pnode"): q(POWER, "node"),
    q(POWER, "aggregatedPnode"): q(POWER, "node"),
    q(POWER, "serviceDeliveryPoint"): q(POWER, "node"),
    q(POWER, "meterAsset"): q(POWER, "mrid"),
    q(POWER, "endDeviceAsset"): q(POWER, "mrid"),
}


def where(element: etree._Element) -> str:
    """Element path and line for messages: 'emix:product/min:duration (line 17)'."""
    tree = element.getroottree()
    return f"{tree.getelementpath(element)} (line {element.sourceline})"


def child(parent: etree._Element, tag: str) -> etree._Element | None:
    """The first child with this tag (half the cost of ``find``, which parses a path)."""
    return next(parent.iterchildren(tag), None)


def required(parent: etree._Element, tag: str) -> etree._Element:
    found = next(parent.iterchildren(tag), None)
    if found is None:
        local = tag.rsplit("}", 1)[-1]
        raise InvalidValueError(f"{local} is required in {where(parent)}")
    return found


def text_of(parent: etree._Element, tag: str) -> str:
    return (required(parent, tag).text or "").strip()


def child_text(parent: etree._Element, tag: str) -> str | None:
    """The first child's text, trimmed; None without such a child."""
    found = next(parent.iterchildren(tag), None)
    return (found.text or "").strip() if found is not None else None


def texts(parent: etree._Element, tag: str) -> list[str]:
    return [(e.text or "").strip() for e in parent.findall(tag)]


def decimal_of(element: etree._Element) -> Decimal:
    try:
        value = Decimal((element.text or "").strip())
    except InvalidOperation:
        raise InvalidValueError(f"Not a number: {element.text!r} at {where(element)}") from None
    if not value.is_finite():
        raise InvalidValueError(f"Not a finite number: {element.text!r} at {where(element)}")
    return value


def datetime_of(element: etree._Element) -> datetime:
    text = (element.text or "").strip()
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidValueError(f"Not a dateTime: {text!r} at {where(element)}") from None
    if value.tzinfo is None:
        raise InvalidValueError(
            f"dateTime {text!r} has no time zone (use Z or an offset) at {where(element)}"
        )
    try:
        return to_utc(value)
    except InvalidValueError as exc:
        raise InvalidValueError(f"{exc.description} at {where(element)}") from None


# ---------------------------------------------------------------- products in


class Kids:
    """An element's children by tag (the first of each), read in one pass: then a lookup
    costs next to nothing, where each ``find`` costs microseconds."""

    __slots__ = ("by_tag", "element")

    def __init__(self, element: etree._Element):
        self.element = element
        self.by_tag: dict[str, etree._Element] = {}
        for found in element:
            self.by_tag.setdefault(found.tag, found)

    @classmethod
    def of(cls, element: etree._Element | Kids) -> Kids:
        return element if isinstance(element, Kids) else cls(element)

    def get(self, tag: str) -> etree._Element | None:
        return self.by_tag.get(tag)

    def required(self, tag: str) -> etree._Element:
        found = self.by_tag.get(tag)
        if found is None:
            raise InvalidValueError(f"{tag.rsplit('}', 1)[-1]} is required in {where(self.element)}")
        return found

    def text(self, tag: str) -> str:
        return (self.required(tag).text or "").strip()


def read_product(product: etree._Element, market_of: MarketOf) -> Product:
    """emix:product (power or transport) or emix:emixOption on one of them."""
    if product.tag not in (q(EMIX, "product"), q(EMIX, "emixOption")):
        local = etree.QName(product).localname
        raise InvalidValueError(
            f"Only emix:product and emix:emixOption are supported here, not {local} at {where(product)}"
        )
    kids = Kids(product)
    if kids.get(q(STRM, "intervals")) is not None:
        raise InvalidValueError(
            f"A TeMIX product has one delivery interval: strm:intervals is not supported at {where(product)}"
        )
    market = market_of(kids.text(q(EMIX, "marketContext")))
    interval = read_interval(kids, market.tz)
    found = kids.get(q(POWER, "temixPower"))
    if found is None:
        raise InvalidValueError(f"The product must describe power:temixPower at {where(product)}")
    description = Kids(found)
    rate_scale, quantity_kw = read_rate(description)
    integral = kids.get(q(EMIX, "integralOnly"))
    expiry = kids.get(q(EMIX, "expirationDate"))
    energy_scale = read_energy_scale(description, market.energy_scale)
    option = None
    if product.tag == q(EMIX, "emixOption"):
        option = OptionTerms(
            option_type=option_type(kids.text(q(EMIX, "optionType"))),
            holder_side=Side(kids.text(q(EMIX, "optionHolderSide"))),
            strike_per_kwh=read_price(kids.required(q(EMIX, "optionStrikePrice")), energy_scale),
        )
        price = read_price(kids.required(q(EMIX, "optionPremium")), energy_scale)
    else:
        price = read_price(description.required(q(EMIX, "price")), energy_scale)
    terms = Terms(
        side=Side(kids.text(q(EMIX, "side"))),
        interface=read_interface(description),
        market_context=market.uri,
        interval=interval,
        price_per_kwh=price,
        quantity_kw=quantity_kw,
        currency=read_currency(kids, market),
    )
    return Product(
        option=option,
        terms=terms,
        transactive_state=kids.text(q(EMIX, "transactiveState")),
        integral_only=integral is not None and integral.text.strip() in ("true", "1"),
        expires_at=datetime_of(expiry) if expiry is not None else None,
        rate_scale=rate_scale,
    )


def read_currency(product: etree._Element | Kids, market: MarketContext) -> str | None:
    """The product's currency, else the market context's; the two must agree."""
    found = Kids.of(product).get(q(EMIX, "currency"))
    currency = (found.text or "").strip() if found is not None else None
    if currency and market.currency and currency != market.currency:
        raise InvalidValueError(
            f"Market context {market.uri!r} trades in {market.currency}, not {currency} at {where(found)}"
        )
    return currency or market.currency


def read_interval(stream: etree._Element | Kids, tz: tzinfo) -> Interval:
    kids = Kids.of(stream)
    start = kids.required(q(MIN, "dtStart"))
    start_at = child(start, q(MIN, "dateTime"))
    if start_at is None:
        raise InvalidValueError(f"dtStart must be a min:dateTime at {where(start)}")
    duration = kids.required(q(MIN, "duration"))
    try:
        return Interval.of(datetime_of(start_at), parse_duration(duration.text or ""), tz)
    except InvalidValueError as exc:
        raise InvalidValueError(f"{exc.description} at {where(duration)}") from exc


def read_interface(description: etree._Element | Kids) -> Interface:
    kids = Kids.of(description)
    transport = kids.get(q(POWER, "transportInterface"))
    if transport is not None:
        transport = Kids(transport)
        return Interface(
            delivery_node=transport.text(q(POWER, "pointOfDelivery")),
            receipt_node=transport.text(q(POWER, "pointOfReceipt")),
        )
    for tag, node_tag in ONE_NODE_INTERFACES.items():
        found = kids.get(tag)
        if found is not None:
            return Interface(delivery_node=text_of(found, node_tag))
    raise InvalidValueError(
        "The interface must be power:pnode (or another one-node interface) or "
        f"power:transportInterface at {where(kids.element)}"
    )


def read_rate(description: Kids) -> tuple[str, Decimal]:
    item = description.get(q(POWER, "powerReal"))
    if item is None:
        raise InvalidValueError(
            f"TeMIX trades real power: power:powerReal is required at {where(description.element)}"
        )
    quantity = description.required(q(EMIX, "quantity"))
    item = Kids(item)
    scale = item.text(q(SCALE, "siScaleCode"))
    return scale, rate_of(quantity, item.text(q(POWER, "itemUnits")), scale)


def rate_of(quantity: etree._Element, item_units: str, scale: str) -> Decimal:
    """An emix:quantity in kW; out of range or too precise is refused naming the element."""
    value = decimal_of(quantity)
    try:
        return units.rate_kw(value, item_units, scale)
    except InvalidValueError as exc:
        raise InvalidValueError(f"{exc.description} at {where(quantity)}") from None


def read_energy_scale(description: Kids, default_scale: str) -> str:
    """Prices are per power:energyReal's unit if given, else per the market context's."""
    energy = description.get(q(POWER, "energyReal"))
    return text_of(energy, q(SCALE, "siScaleCode")) if energy is not None else default_scale


def read_price(price: etree._Element, energy_scale: str) -> Decimal:
    """An emix:PriceType element (emix:price, optionPremium, optionStrikePrice) per kWh."""
    value = required(price, q(EMIX, "value"))
    amount = decimal_of(value)
    try:
        return units.price_per_kwh(amount, energy_scale)
    except InvalidValueError as exc:
        raise InvalidValueError(f"{exc.description} at {where(value)}") from None


def exercised_product(
    option: etree._Element, interval: Interval, quantity_text: str, side: Side, uid: str
) -> etree._Element:
    """The emix:product an exercise makes: the option's power description at the strike
    price (as the option wrote it), for the exercised sub-interval and rate."""
    power = copy.deepcopy(option.find(q(POWER, "temixPower")))
    price = power.find(q(EMIX, "price"))
    if price is None:
        price = element(q(EMIX, "price"))
        interface = next((c for c in power if c.tag in ONE_NODE_INTERFACES or c.tag == q(POWER, "transportInterface")), None)
        power.insert(0 if interface is None else 1, price)
    price[:] = [copy.deepcopy(option.find(f"{q(EMIX, 'optionStrikePrice')}/{q(EMIX, 'value')}"))]
    power.find(q(EMIX, "quantity")).text = quantity_text
    currency = option.find(q(EMIX, "currency"))
    return element(
        q(EMIX, "product"),
        None,
        element(q(MIN, "dtStart"), None, element(q(MIN, "dateTime"), format_instant(interval.start))),
        element(q(MIN, "duration"), interval.duration_text()),
        power,
        element(q(EMIX, "uid"), uid),
        element(q(EMIX, "transactiveState"), "exercise"),
        *([element(q(EMIX, "currency"), currency.text)] if currency is not None else []),
        element(q(EMIX, "marketContext"), option.findtext(q(EMIX, "marketContext"))),
        element(q(EMIX, "side"), side.value),
    )


def format_decimal(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


def iso_interval(uid: etree._Element) -> Interval:
    """An ISO 8601 time interval, 'start/end' or 'start/duration', with a time zone."""
    text = (uid.text or "").strip()
    start_text, _, end_text = text.partition("/")
    try:
        start = datetime.fromisoformat(start_text)
        if end_text.startswith("P"):
            interval = Interval.of(to_utc(start), parse_duration(end_text))
        else:
            interval = Interval(to_utc(start), to_utc(datetime.fromisoformat(end_text)))
    except ValueError:
        raise InvalidValueError(
            f"Interval filter {text!r} is not an ISO 8601 'start/end' or 'start/duration' "
            f"with a time zone, at {where(uid)}"
        ) from None
    except InvalidValueError as exc:
        raise InvalidValueError(f"Interval filter {text!r}: {exc.description}, at {where(uid)}") from None
    return interval


# ---------------------------------------------------------------- responses out


def element(tag: str, text: str | None = None, *children: etree._Element) -> etree._Element:
    node = etree.Element(tag)
    if text is not None:
        node.text = text
    node.extend(children)
    return node


def ei_response(request_id: str, code: str = "200", description: str = "OK") -> etree._Element:
    return element(
        q(EI, "eiResponse"),
        None,
        element(q(EI, "responseCode"), code),
        element(q(EI, "responseDescription"), description),
        element(q(EI, "refID"), request_id),
    )


def ids(tag: str, values: Iterable[str]) -> list[etree._Element]:
    return [element(tag, value) for value in values]


def add_items(
    reply: etree._Element, tag: str, id_tags: tuple[str, ...], items: Iterable[tuple[tuple[str, ...], etree._Element]]
) -> None:
    """ei:eiTender / ei:eiTransaction elements: for each (IDs, product), the IDs in ``id_tags``
    and the product. One blank item is built and copied for each: cheaper than SubElement's
    tag and namespace lookups. It declares only its own namespace, under the reply's prefix:
    whatever an element declares is checked against the reply's declarations when it moves in."""
    namespace = etree.QName(tag).namespace
    blank = etree.Element(tag, nsmap={p: uri for p, uri in reply.nsmap.items() if uri == namespace})
    for id_tag in id_tags:
        etree.SubElement(blank, id_tag)
    for ids, product in items:
        item = blank.__copy__()  # a deep copy, without the copy module's dispatch
        reply.append(item)  # first: the product then moves once, into the reply
        for slot, object_id in zip(item, ids, strict=True):
            slot.text = object_id
        item.append(product)


def position_interface(payload: etree._Element) -> tuple[str, str] | None:
    """The (receipt, delivery) node filter of EiRequestPosition; receipt '' for one node."""
    transport = payload.find(q(POWER, "transportInterface"))
    if transport is not None:
        interface = read_interface(payload)
        return interface.receipt_node, interface.delivery_node
    for tag in ONE_NODE_INTERFACES:
        if payload.find(tag) is not None:
            return "", read_interface(payload).delivery_node
    return None


def kwh_item() -> etree._Element:
    """``power:energyReal`` in kWh: the item of an energy quantity (quotes' trade prices,
    imbalance transactions, metered deliveries)."""
    return element(
        q(POWER, "energyReal"),
        None,
        element(q(POWER, "itemDescription"), "RealEnergy"),
        element(q(POWER, "itemUnits"), "Wh"),
        element(q(SCALE, "siScaleCode"), "k"),
    )


def interface_element(receipt_node: str, delivery_node: str) -> etree._Element:
    if receipt_node:
        return element(
            q(POWER, "transportInterface"),
            None,
            element(q(POWER, "pointOfReceipt"), receipt_node),
            element(q(POWER, "pointOfDelivery"), delivery_node),
        )
    return element(q(POWER, "pnode"), None, element(q(POWER, "node"), delivery_node))


def position(key, steps) -> etree._Element:
    """temix:position of one (market context, product kind, interface)."""
    node = element(
        q(TEMIX, "position"),
        None,
        element(q(EMIX, "marketContext"), key.market_context),
        element(q(TEMIX, "productKind"), key.product_kind),
        interface_element(key.receipt_node, key.delivery_node),
    )
    add_position_steps(node, steps)
    return node


STEP_TAGS = (  # after min:dtStart
    q(MIN, "duration"),
    q(TEMIX, "rate"),
    q(TEMIX, "minRate"),
    q(TEMIX, "maxRate"),
    q(TEMIX, "energy"),
    q(TEMIX, "value"),
)


def add_position_steps(parent: etree._Element, steps) -> None:
    """The temix:step elements: a day at PT5M is 288 of them, 2,600 elements. One blank step is
    built, filled in for each step and copied into place: cheaper than SubElement's tag and
    namespace lookups and a Python object per element."""
    if not steps:
        return
    blank = etree.Element(q(TEMIX, "step"))
    start = etree.SubElement(etree.SubElement(blank, q(MIN, "dtStart")), q(MIN, "dateTime"))
    duration, rate, low, high, energy, value = (etree.SubElement(blank, tag) for tag in STEP_TAGS)
    durations: dict = {}
    rates: dict = {}  # the text of each rate: rates recur from step to step
    for interval, average, energy_kwh, value_, min_rate, max_rate in steps:
        start.text = format_instant(interval.start)
        length = interval.end - interval.start
        duration.text = durations.get(length) or durations.setdefault(length, interval.duration_text())
        rate.text = rates.get(average) or rates.setdefault(average, format_decimal(average))
        low.text = rates.get(min_rate) or rates.setdefault(min_rate, format_decimal(min_rate))
        high.text = rates.get(max_rate) or rates.setdefault(max_rate, format_decimal(max_rate))
        energy.text = format_decimal(energy_kwh)
        value.text = format_decimal(value_)
        parent.append(blank.__copy__())  # a deep copy, without the copy module's dispatch


def format_instant(instant: datetime) -> str:
    return instant.isoformat().replace("+00:00", "Z")


def request_id_of(payload: etree._Element) -> str:
    found = child(payload, q(PYLD, "requestID"))
    return (found.text or "").strip() if found is not None else ""
