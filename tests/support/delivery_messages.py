"""Builders of /EiDelivery payloads for tests (lxml; see README "/EiDelivery"): a meter's
temix:eiReportDelivery and a party's EiCreateDelivery, both made of emix:delivery elements."""

from __future__ import annotations

from service.soap.ns import EI, EMIX, MIN, POWER, PYLD, SCALE, TEMIX, q
from tests.support.messages import CTX, el


def delivery(start, duration="PT1H", *, quantity=None, node="NODE-1", injection=False, scale="k",
             market_context=CTX, uid="d-1"):
    """One ``emix:delivery`` at a node; without ``quantity`` (None) the "empty" one
    EiCreateDelivery asks for. ``scale`` is the siScaleCode of power:energyReal (Wh), or None
    for none (kWh)."""
    energy = None
    if scale is not None:
        energy = el(
            q(POWER, "energyReal"), None, el(q(POWER, "itemDescription"), "RealEnergy"), el(q(POWER, "itemUnits"), "Wh"),
            el(q(SCALE, "siScaleCode"), scale),
        )
    return el(
        q(EMIX, "delivery"),
        None,
        el(q(MIN, "dtStart"), None, el(q(MIN, "dateTime"), start)),
        el(q(MIN, "duration"), duration),
        el(
            q(TEMIX, "meteredPower"), None, el(q(POWER, "pnode"), None, el(q(POWER, "node"), node)), energy,
            el(q(EMIX, "quantity"), quantity) if quantity is not None else None, el(q(EMIX, "marketContext"), market_context),
        ),
        el(q(EMIX, "uid"), uid),
        el(q(EMIX, "injection"), "true" if injection else "false"),
    )


def report_delivery(request_id, meter, *readings):
    """``readings``: (metered party, delivery element) pairs."""
    return el(
        q(TEMIX, "eiReportDelivery"),
        None,
        el(q(PYLD, "requestID"), request_id),
        el(q(EI, "partyID"), meter),
        *(el(q(TEMIX, "meterReading"), None, el(q(EI, "partyID"), party), one) for party, one in readings),
    )


def create_delivery(request_id, party, *deliveries):
    return el(
        q(PYLD, "eiCreateDelivery"),
        None,
        el(q(PYLD, "requestID"), request_id),
        el(q(EI, "requestorPartyID"), party),
        *deliveries,
    )
