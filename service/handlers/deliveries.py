"""Metered delivery: temix:eiReportDelivery (a metering party reports readings) and
EiCreateDelivery (a party asks for its own metered energy)."""

from __future__ import annotations

import hashlib
from decimal import Decimal

from service.domain import audit
from service.domain.audit import Subject
from service.domain.deliveries import (
    DAY,
    CreateDelivery,
    CreatedDelivery,
    DeliveryAsked,
    MeteredDelivery,
    ReportDelivery,
    ReportedDelivery,
    check_reading,
    repeated_keys,
    settlement_intervals,
)
from service.domain.errors import DuplicateIdError, InvalidValueError, NotFoundError, NotPermittedError
from service.domain.registrations import METER
from service.handlers import Context


def report_delivery(cmd: ReportDelivery, uow, ctx: Context) -> ReportedDelivery:
    """All readings or none: each one settlement interval of its market context, no key
    twice, every party registered. Only a party with the meter role reports."""
    if METER not in uow.registrations.roles_of(ctx.party_id):
        raise NotPermittedError(
            f"Only a party with the meter role reports deliveries; {ctx.party_id!r} has none"
            " (the market operator gives it: temix party role PARTY --add meter)"
        )
    if len(cmd.readings) > ctx.max_items:
        raise InvalidValueError(f"At most {ctx.max_items} meter readings per report")
    checked = []
    for number, reading in enumerate(cmd.readings, 1):
        market = ctx.market_of(reading.market_context)
        try:
            checked.append(check_reading(reading, market.settlement_step, market.tz))
        except InvalidValueError as error:
            raise InvalidValueError(f"temix:meterReading {number}: {error.description}") from None
    repeated = repeated_keys(checked)
    if repeated:
        party_id, market_context, interface, start, injection = repeated[0]
        raise DuplicateIdError(
            f"Two readings for {party_id!r} at {interface!r} from {start.isoformat()}"
            f" ({'injection' if injection else 'withdrawal'}) in one report"
        )
    unregistered = uow.deliveries.unregistered(sorted({reading.party_id for reading in checked}))
    if unregistered:
        raise NotFoundError(f"Party {unregistered[0]!r} is not registered")
    counts = uow.deliveries.record(checked, ctx.party_id, ctx.now, ctx.request_id)
    uow.audit.record(audit.DELIVERY_REPORTED, Subject(party_id=ctx.party_id), {
        "readings": len(checked), "new": counts.new, "corrected": counts.corrected, "unchanged": counts.unchanged,
        "parties": len({reading.party_id for reading in checked}),
    })
    return ReportedDelivery(counts)


def create_delivery(cmd: CreateDelivery, uow, ctx: Context) -> CreatedDelivery:
    """Each delivery asked for, with the requestor's own metered energy over its interval
    (the sum of its settlement intervals' readings, once all of them are in). Readings are
    read once per market context, interface and stretch of time the deliveries cover."""
    if len(cmd.asked) > ctx.max_items:
        raise InvalidValueError(f"At most {ctx.max_items} deliveries per request")
    starts = []
    for number, asked in enumerate(cmd.asked, 1):
        market = ctx.market_of(asked.market_context)
        try:
            intervals = settlement_intervals(asked.start, asked.end, market.settlement_step, market.tz)
        except InvalidValueError as error:
            raise InvalidValueError(f"emix:delivery {number}: {error.description}") from None
        if intervals[-1][1] != asked.end:
            raise InvalidValueError(
                f"emix:delivery {number}: its interval does not end on a settlement interval"
                f" of {market.settlement_interval}"
            )
        starts.append([start for start, _ in intervals])
    metered = _readings(cmd.asked, uow, ctx.party_id)
    shown = []
    for asked, interval_starts in zip(cmd.asked, starts):
        found = [metered.get((asked.market_context, asked.interface, start, asked.injection)) for start in interval_starts]
        energy = None if None in found else sum(found, start=Decimal(0))
        shown.append(MeteredDelivery(asked, delivery_id(ctx.party_id, asked), energy))
    return CreatedDelivery(tuple(shown), ctx.now)


def _readings(asked: tuple[DeliveryAsked, ...], uow, party_id: str) -> dict[tuple, Decimal]:
    """(market context, interface, interval start, injection) -> kWh of the party's readings
    under the deliveries asked: one read per stretch of them no more than a day apart."""
    by_interface: dict[tuple[str, str], list[DeliveryAsked]] = {}
    for one in asked:
        by_interface.setdefault((one.market_context, one.interface), []).append(one)
    found = {}
    for (market_context, interface), group in by_interface.items():
        group.sort(key=lambda one: one.start)
        stretches = [[group[0].start, group[0].end]]
        for one in group[1:]:
            if one.start <= stretches[-1][1] + DAY:
                stretches[-1][1] = max(stretches[-1][1], one.end)
            else:
                stretches.append([one.start, one.end])
        for start, end in stretches:
            for reading in uow.deliveries.for_party(party_id, market_context, interface, start, end):
                found[(market_context, interface, reading.start, reading.injection)] = reading.energy_kwh
    return found


def delivery_id(party_id: str, asked: DeliveryAsked) -> str:
    """The same delivery (party, market context, interface, interval, direction) always has
    the same ID, whoever asks when."""
    key = "\n".join((party_id, asked.market_context, asked.interface, asked.start.isoformat(),
                     asked.end.isoformat(), str(asked.injection)))
    return "delivery-" + hashlib.sha256(key.encode()).hexdigest()[:24]
