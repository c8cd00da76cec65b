"""The delivery handlers on a fake unit of work: only a meter reports, all readings or none,
corrections counted and audited, and a party reads back only its own metered energy."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from service.domain.commands import CreateRegistration
from service.domain.deliveries import CreateDelivery, DeliveryAsked, MeterReading, RecordCounts, ReportDelivery
from service.domain.errors import TemixError, UnknownMarketContextError
from service.domain.markets import MarketContext
from service.domain.registrations import Memberships
from service.handlers.deliveries import create_delivery, report_delivery
from service.handlers.registrations import create_registration
from tests.unit.fake_uow import FakeUnitOfWork, Party
from tests.unit.test_handlers import context

CTX = "http://market.example.com/temix/quarter"
T0 = datetime(2030, 1, 1, 10, tzinfo=UTC)
Q = timedelta(minutes=15)


def market_of(uri: str) -> MarketContext:
    if uri != CTX:
        raise UnknownMarketContextError(f"Market context {uri!r} is not registered with this service")
    return MarketContext(uri, settlement_interval="PT15M")


def ctx(party_id="meter-1", request_id="r1"):
    return replace(context(party_id, request_id, T0 + timedelta(days=1)), market_of=market_of)


def market() -> FakeUnitOfWork:
    return FakeUnitOfWork({
        "meter-1": Party(roles={"meter"}), "reg": Party(roles={"registrar"}), "party-A": Party({CTX}), "party-B": Party(),
    })


def reading(party="party-A", quarter=0, kwh="1", injection=False, length=Q) -> MeterReading:
    start = T0 + quarter * Q
    return MeterReading(party, CTX, "NODE-1", start, start + length, injection, Decimal(kwh))


def code_of(call) -> str:
    with pytest.raises(TemixError) as refused:
        call()
    return refused.value.response_code


def test_a_meter_records_readings_and_one_audit_row_with_the_counts():
    uow = market()
    done = report_delivery(ReportDelivery((reading(quarter=0), reading(quarter=1))), uow, ctx())
    assert done.counts == RecordCounts(2, 0, 0)
    corrected = report_delivery(ReportDelivery((reading(quarter=0, kwh="2"), reading(quarter=1))), uow, ctx(request_id="r2"))
    assert corrected.counts == RecordCounts(0, 1, 1)
    assert [(kind, details["readings"], details["corrected"]) for kind, _, details in uow.audit.events] == [
        ("delivery.reported", 2, 0), ("delivery.reported", 2, 1),
    ]
    assert uow.deliveries.history[0][1:3] == (Decimal("1"), Decimal("2"))


def test_a_party_without_the_meter_role_is_refused_with_403():
    uow = market()
    assert code_of(lambda: report_delivery(ReportDelivery((reading(),)), uow, ctx("party-A"))) == "403"
    assert uow.deliveries.readings == {}


@pytest.mark.parametrize("bad, code", [
    (reading(quarter=1, length=2 * Q), "400"),  # two settlement intervals
    (replace(reading(quarter=1), start=T0 + Q + timedelta(minutes=5), end=T0 + 2 * Q + timedelta(minutes=5)), "400"),
    (reading(party="nobody", quarter=1), "404"),
    (reading(quarter=0, kwh="3"), "409"),  # the same key twice in one report
    (replace(reading(quarter=1), market_context="urn:elsewhere"), "462"),
])
def test_one_bad_reading_refuses_the_whole_report(bad, code):
    uow = market()
    assert code_of(lambda: report_delivery(ReportDelivery((reading(quarter=0), bad)), uow, ctx())) == code
    assert uow.deliveries.readings == {} and uow.audit.events == []


def test_a_registrar_cannot_give_the_meter_role():
    uow = market()
    call = lambda: create_registration(CreateRegistration("party-A", Memberships.of(roles=["meter"])), uow, ctx("reg"))  # noqa: E731
    assert code_of(call) == "403"


def asked(uid="d", start=T0, length=Q, injection=False) -> DeliveryAsked:
    return DeliveryAsked(uid, CTX, "NODE-1", start, start + length, injection)


def test_a_party_reads_its_own_metered_energy_summed_over_settlement_intervals():
    uow = market()
    report_delivery(ReportDelivery((
        reading(quarter=0, kwh="1.25"), reading(quarter=1, kwh="0.5"), reading("party-B", quarter=0, kwh="9"),
    )), uow, ctx())
    shown = create_delivery(CreateDelivery((
        asked("one"), asked("half", length=2 * Q), asked("hour", length=4 * Q), asked("in", injection=True),
    )), uow, ctx("party-A")).deliveries
    assert [(d.asked.uid, d.energy_kwh) for d in shown] == [
        ("one", Decimal("1.25")), ("half", Decimal("1.75")), ("hour", None), ("in", None),
    ]
    theirs = create_delivery(CreateDelivery((asked("one"),)), uow, ctx("party-B")).deliveries
    assert theirs[0].energy_kwh == Decimal("9") and theirs[0].delivery_id != shown[0].delivery_id


def test_a_delivery_asked_off_the_settlement_intervals_is_refused():
    uow = market()
    assert code_of(lambda: create_delivery(CreateDelivery((asked(start=T0 + timedelta(minutes=5)),)), uow, ctx("party-A"))) == "400"
    assert code_of(lambda: create_delivery(CreateDelivery((asked(length=Q + timedelta(minutes=5)),)), uow, ctx("party-A"))) == "400"


def test_deliveries_asked_together_are_read_once_per_stretch_of_time():
    uow = market()
    report_delivery(ReportDelivery(tuple(reading(quarter=k, kwh="1") for k in range(96))), uow, ctx())
    reads = []
    for_party = uow.deliveries.for_party
    uow.deliveries.for_party = lambda *args: reads.append(args) or for_party(*args)
    day = tuple(asked(f"h{h}", start=T0 + h * 4 * Q, length=4 * Q) for h in range(24))
    later = asked("later", start=T0 + timedelta(days=10))
    shown = create_delivery(CreateDelivery((*day, later)), uow, ctx("party-A")).deliveries
    assert len(reads) == 2
    assert [d.energy_kwh for d in shown] == [Decimal("4")] * 24 + [None]
