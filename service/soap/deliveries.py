"""Metered delivery at the edge (/EiDelivery): payloads -> delivery commands (readers),
results -> replies (writer parts).

A delivery on the wire is an emix:delivery: min:dtStart and min:duration (one or more
settlement intervals), the stream payload temix:meteredPower (power:temixPower with the
market context: the interface, power:energyReal, emix:quantity, emix:marketContext), emix:uid
and emix:injection. The interface is one node (power:pnode, or another one-node interface):
a meter measures at one point. The quantity is energy in the scale of power:energyReal (kWh
without it), read from its text as an exact decimal although the schema types it xs:float.
"""

from __future__ import annotations

from decimal import Decimal

from lxml import etree

from service.domain.deliveries import CreateDelivery, DeliveryAsked, MeterReading, ReportDelivery
from service.domain.errors import InvalidValueError
from service.domain.intervals import exact_duration_text
from service.domain.units import metered_kwh
from service.soap import mapping as m
from service.soap.ns import EI, EMIX, MIN, POWER, SCALE, TEMIX, q
from service.soap.readers import Reading

DELIVERY = q(EMIX, "delivery")
METERED_POWER = q(TEMIX, "meteredPower")

# ---------------------------------------------------------------- readers


def report_delivery(payload: etree._Element, reading: Reading) -> ReportDelivery:
    readings = []
    for element in payload.iterchildren(q(TEMIX, "meterReading")):
        party_id = m.text_of(element, q(EI, "partyID"))
        delivery = m.required(element, DELIVERY)
        asked = read_delivery(delivery, reading)
        power = m.Kids(m.required(delivery, METERED_POWER))
        quantity = power.get(q(EMIX, "quantity"))
        if quantity is None:
            raise InvalidValueError(f"A meter reading needs its emix:quantity at {m.where(power.element)}")
        readings.append(MeterReading(
            party_id, asked.market_context, asked.interface, asked.start, asked.end, asked.injection,
            energy_kwh(power, quantity),
        ))
    return ReportDelivery(tuple(readings))


def create_delivery(payload: etree._Element, reading: Reading) -> CreateDelivery:
    return CreateDelivery(tuple(read_delivery(element, reading) for element in payload.iterchildren(DELIVERY)))


def read_delivery(delivery: etree._Element, reading: Reading) -> DeliveryAsked:
    """What an emix:delivery names: market context, interface, interval and direction."""
    kids = m.Kids(delivery)
    metered = kids.get(METERED_POWER)
    if metered is None:
        raise InvalidValueError(
            "The stream payload of an emix:delivery must be temix:meteredPower (power:temixPower with"
            f" its emix:marketContext) at {m.where(delivery)}"
        )
    power = m.Kids(metered)
    if power.get(q(POWER, "transportInterface")) is not None:
        raise InvalidValueError(f"A delivery is metered at one node, not a transportInterface, at {m.where(metered)}")
    if power.get(q(POWER, "powerReal")) is not None:
        raise InvalidValueError(f"A delivery is energy: power:energyReal, not power:powerReal, at {m.where(metered)}")
    market = reading.market_of(power.text(q(EMIX, "marketContext")))
    interval = m.read_interval(kids, market.tz)
    injection = kids.text(q(EMIX, "injection"))
    return DeliveryAsked(
        uid=kids.text(q(EMIX, "uid")),
        market_context=market.uri,
        interface=m.read_interface(power).delivery_node,
        start=interval.start,
        end=interval.end,
        injection=injection in ("true", "1"),
    )


def energy_kwh(power: m.Kids, quantity: etree._Element) -> Decimal:
    """emix:quantity in kWh, exactly, from the scale of power:energyReal (k without it)."""
    item = power.get(q(POWER, "energyReal"))
    scale = m.text_of(item, q(SCALE, "siScaleCode")) if item is not None else "k"
    value = m.decimal_of(quantity)
    if value < 0:
        raise InvalidValueError(
            f"Energy cannot be negative ({quantity.text}): report withdrawal with injection false, at {m.where(quantity)}"
        )
    try:
        return metered_kwh(value, scale)
    except InvalidValueError as error:
        raise InvalidValueError(f"{error.description} at {m.where(quantity)}") from None


# ---------------------------------------------------------------- writer parts


def reported_counts(node, answer, result) -> None:
    counts = result.counts if result is not None else None
    for tag, value in (("newReadings", "new"), ("correctedReadings", "corrected"), ("unchangedReadings", "unchanged")):
        node.append(m.element(q(TEMIX, tag), str(getattr(counts, value) if counts else 0)))


def deliveries(node, answer, result) -> None:
    """ei:eiDelivery, one per delivery asked for, in the order asked."""
    if result is None:
        return
    created = m.format_instant(result.created_at)
    for shown in result.deliveries:
        asked = shown.asked
        power = m.element(
            METERED_POWER, None,
            m.element(q(POWER, "pnode"), None, m.element(q(POWER, "node"), asked.interface)),
            m.kwh_item(),
        )
        if shown.energy_kwh is not None:
            power.append(m.element(q(EMIX, "quantity"), m.format_decimal(shown.energy_kwh)))
        power.append(m.element(q(EMIX, "marketContext"), asked.market_context))
        node.append(m.element(
            q(EI, "eiDelivery"), None,
            m.element(q(MIN, "dtStart"), None, m.element(q(MIN, "dateTime"), m.format_instant(asked.start))),
            m.element(q(MIN, "duration"), exact_duration_text(asked.end - asked.start)),
            power,
            m.element(q(EMIX, "uid"), asked.uid),
            m.element(q(EMIX, "injection"), "true" if asked.injection else "false"),
            m.element(q(EI, "eiDeliveryID"), shown.delivery_id),
            m.element(q(EI, "createdDateTime"), created),
        ))
