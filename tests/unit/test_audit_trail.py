"""The audit trail without a database: the events handlers record on a fake unit of work, the
details guard, and how ``temix audit`` writes an event (table line, JSON line) and reads times."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from service.cli.audit import WIDTHS, instant_arg, table_line
from service.domain import audit
from service.domain.audit import AuditEvent, Subject, as_json, as_row, check_details, instant, operator
from service.domain.commands import CancelTender, CreateTender, CreateTransaction
from service.domain.errors import TemixError
from service.handlers.tenders import cancel_tender, create_tender
from service.handlers.transactions import create_transaction
from tests.unit.test_handlers import accept, context, offer, uow  # noqa: F401 (the fixture)

EVENT = AuditEvent(
    datetime(2030, 1, 1, 10, tzinfo=UTC), "party-B", "r3", audit.TENDER_FILLED,
    Subject("party-A", "party-B", "t1", "x1"), {"rate_kw": "4", "remaining_kw": "6"},
)


def test_handlers_record_one_event_per_change_with_its_subject(uow):  # noqa: F811
    create_tender(CreateTender("party-B", (offer("t1"), offer("t2", side="buy"))), uow, context("party-A"))
    create_transaction(CreateTransaction("party-A", (accept("x1", "t1", kw="4"),)), uow, context("party-B", "r2"))
    cancel_tender(CancelTender(("t2",)), uow, context("party-A", "r3"))
    assert [(kind, subject) for kind, subject, _ in uow.audit.events] == [
        (audit.TENDER_CREATED, Subject("party-A", "party-B", "t1")),
        (audit.TENDER_CREATED, Subject("party-A", "party-B", "t2")),
        (audit.TRANSACTION_CREATED, Subject("party-B", "party-A", "t1", "x1")),
        (audit.TENDER_FILLED, Subject("party-A", "party-B", "t1", "x1")),
        (audit.TENDER_CANCELLED, Subject("party-A", "party-B", "t2")),
    ]
    assert uow.audit.events[3][2] == {"rate_kw": "4", "price_per_kwh": "0.08", "remaining_kw": "6"}


def test_a_refused_handler_records_nothing(uow):  # noqa: F811
    with pytest.raises(TemixError):
        create_transaction(CreateTransaction("party-A", (accept("x1", "no-such"),)), uow, context("party-B"))
    assert uow.audit.events == []


def test_details_naming_a_password_hash_or_secret_are_refused_at_any_depth():
    assert check_details({"digest_enabled": True, "groups": ["north"]}) == {"digest_enabled": True, "groups": ["north"]}
    for details in ({"password": "x"}, {"new_password_hash": "x"}, {"credentials": {"Secret": "x"}}):
        with pytest.raises(ValueError, match="must not carry"):
            check_details(details)


def test_instants_are_utc_with_a_z_and_amounts_exact_text():
    assert instant(datetime(2030, 1, 1, 11, tzinfo=timezone(timedelta(hours=1)))) == "2030-01-01T10:00:00Z"
    assert instant(datetime(2030, 1, 1, 10, 0, 0, 500, tzinfo=UTC)) == "2030-01-01T10:00:00.000500Z"
    assert instant(None) is None
    assert audit.amount(Decimal("0.10")) == "0.10"
    assert operator("party add") == "operator:party add"


def test_an_event_is_one_json_object_on_one_line_with_fixed_keys():
    line = as_json(EVENT)
    assert "\n" not in line
    assert list(json.loads(line)) == [
        "at", "actor", "request_id", "kind", "party_id", "counterparty_id", "tender_id", "transaction_id", "details",
    ]
    assert json.loads(line)["at"] == "2030-01-01T10:00:00Z"
    assert json.loads(as_json(AuditEvent(EVENT.at, "clock", None, "tender.expired", Subject("é")))) == {
        "at": "2030-01-01T10:00:00Z", "actor": "clock", "request_id": None, "kind": "tender.expired",
        "party_id": "é", "counterparty_id": None, "tender_id": None, "transaction_id": None, "details": {},
    }


def test_an_event_as_table_cells_shows_a_dash_for_nothing_and_compact_details():
    assert as_row(EVENT) == (
        "2030-01-01T10:00:00Z", "party-B", "r3", "tender.filled", "party-A", "party-B", "t1", "x1", "rate_kw=4 remaining_kw=6",
    )
    cells = as_row(AuditEvent(EVENT.at, "operator:party add", None, "party.added", Subject("carol"),
                              {"groups": ["north", "south"], "digest_enabled": False, "option": {"type": "call"}}))
    assert cells[2] == "-" and cells[5:8] == ("-", "-", "-")
    assert cells[-1] == "groups=north,south digest_enabled=no option={type=call}"


def test_table_lines_pad_each_column_and_let_a_wide_cell_push_the_rest():
    line = table_line(audit.TABLE_HEADER)
    assert line.startswith("TIME" + " " * (WIDTHS[0] - 4) + "  ACTOR")
    assert line.endswith("TRANSACTION" + " " * (WIDTHS[-1] - 11) + "  DETAILS")
    wide = table_line(("x" * 30,) + ("-",) * 8)
    assert wide.startswith("x" * 30 + "  -")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2030-01-01", datetime(2030, 1, 1, tzinfo=UTC)),
        ("2030-01-01T10:00:00Z", datetime(2030, 1, 1, 10, tzinfo=UTC)),
        ("2030-01-01T12:00:00+02:00", datetime(2030, 1, 1, 10, tzinfo=UTC)),
        ("2030-01-01T10:00", datetime(2030, 1, 1, 10, tzinfo=UTC)),
    ],
)
def test_from_and_to_take_a_date_or_an_instant_in_utc_unless_an_offset_says_otherwise(text, expected):
    assert instant_arg(text) == expected


def test_from_and_to_refuse_what_is_not_a_date_or_instant():
    with pytest.raises(argparse.ArgumentTypeError, match="not an ISO 8601"):
        instant_arg("yesterday")
