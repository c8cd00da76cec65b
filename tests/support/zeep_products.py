"""A TeMIX power product built with zeep the documented way: substitute() for every abstract head."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from service.client import substitute

CTX = "http://market.example.com/temix/ctx1"
START = datetime(2030, 1, 1, 10, tzinfo=UTC)


def power_product(client, interface, *, side="buy", state="tender", quantity="10", uid="product-1", expires=None):
    """``quantity`` kW at ``interface``, 2030-01-01 10:00Z for 1 h, at 0.08 USD per kWh."""
    power = substitute(
        client,
        "power:temixPower",
        emixInterface=interface,
        price={"value": Decimal("0.08")},
        powerItem=substitute(
            client,
            "power:powerReal",
            itemDescription="RealPower",
            itemUnits="W",
            siScaleCode="k",
            powerAttributes={"hertz": 60, "voltage": 240, "ac": True},
        ),
        quantity=Decimal(quantity),
    )
    optional = {"expirationDate": expires} if expires is not None else {}
    return substitute(
        client,
        "emix:product",
        dtStart={"dateTime": START},
        duration="PT1H",
        streamPayloadBase=power,
        uid=uid,
        transactiveState=state,
        **optional,
        currency="USD",
        marketContext=CTX,
        side=side,
    )
