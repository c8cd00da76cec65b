"""The audit trail on a real PostgreSQL: every state change recorded with its actor, requestID
and details in the change's transaction; nothing for a refused request; UPDATE, DELETE and
TRUNCATE refused; ``temix audit`` filtering and writing both formats."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from service.cli import run
from tests.support import messages as msg
from tests.support import option_messages as opt

CTX = msg.CTX


def events(engine) -> list[dict]:
    """Every recorded event, in order."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT at, actor, request_id, kind, party_id, counterparty_id, tender_id, transaction_id, details"
                " FROM audit_event ORDER BY id"
            )
        ).mappings()
        return [dict(row) for row in rows]


def brief(found: list[dict]) -> list[tuple]:
    return [(e["kind"], e["actor"], e["request_id"], e["party_id"], e["counterparty_id"], e["tender_id"], e["transaction_id"]) for e in found]


def ok(reply):
    assert reply.code == "200", reply.description
    return reply


def temix_audit(monkeypatch, capsys, database_url, tmp_path, *args) -> list[str]:
    """``temix audit ARGS`` in this process on the test database: its output lines."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("TEMIX_DATA_DIR", str(tmp_path / "data"))
    capsys.readouterr()
    assert run(["audit", *args]) == 0
    return capsys.readouterr().out.splitlines()


def temix_cli(monkeypatch, capsys, database_url, tmp_path, *args, stdin="") -> int:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("TEMIX_DATA_DIR", str(tmp_path / "data"))
    status = run(list(args), stdin=io.StringIO(stdin))
    capsys.readouterr()
    return status


# --- what a request records -------------------------------------------------------------------


def test_every_state_changing_operation_is_recorded_with_actor_request_and_details(service, engine, clock):
    ok(service.call("/EiTender", msg.create_tender("r-create", "party-A", "party-B", ("t1", msg.product(quantity="10")), ("t2", msg.product(side="buy")))))
    ok(service.call("/EiTender", msg.distribute_tender("r-dist", "party-A", ("d1", msg.product(price="0.09")))))
    ok(service.call("/EiTender", msg.cancel_tender("r-cancel", "party-A", "t2")))
    ok(service.call("/EiTransaction", msg.create_transaction("r-take", "party-B", "party-A", ("x1", "t1", msg.product(side="buy", quantity="4", state="transaction")))))
    ok(service.call("/EiTender", msg.create_tender("r-opt", "party-A", "party-B", ("opt-1", opt.option()))))
    ok(service.call("/EiTransaction", msg.create_transaction("r-hold", "party-B", "party-A", ("opt-x", "opt-1", opt.option(side="buy", state="transaction")))))
    ok(service.call("/EiTransaction", opt.exercise_option("r-ex", "party-B", "party-A", "opt-x", ("ex-1", "2030-01-01T11:00:00Z", "PT2H", "6"))))

    found = events(engine)
    assert brief(found) == [
        ("tender.created", "party-A", "r-create", "party-A", "party-B", "t1", None),
        ("tender.created", "party-A", "r-create", "party-A", "party-B", "t2", None),
        ("tender.distributed", "party-A", "r-dist", "party-A", None, "d1", None),
        ("tender.cancelled", "party-A", "r-cancel", "party-A", "party-B", "t2", None),
        ("transaction.created", "party-B", "r-take", "party-B", "party-A", "t1", "x1"),
        ("tender.filled", "party-B", "r-take", "party-A", "party-B", "t1", "x1"),
        ("tender.created", "party-A", "r-opt", "party-A", "party-B", "opt-1", None),
        ("transaction.created", "party-B", "r-hold", "party-B", "party-A", "opt-1", "opt-x"),
        ("tender.filled", "party-B", "r-hold", "party-A", "party-B", "opt-1", "opt-x"),
        ("option.exercised", "party-B", "r-ex", "party-B", "party-A", None, "ex-1"),
    ]
    assert {e["at"] for e in found} == {clock.now}  # the server clock the request was decided at
    created, _, distributed, cancelled, transacted, filled, option, _, _, exercised = (e["details"] for e in found)
    assert created == {
        "side": "sell", "market_context": CTX, "delivery_node": "NODE-1", "start": "2030-01-01T10:00:00Z",
        "end": "2030-01-01T11:00:00Z", "price_per_kwh": "0.08", "quantity_kw": "10", "currency": "USD",
    }
    assert distributed["recipients"] == 2 and distributed["price_per_kwh"] == "0.09"
    assert cancelled == {"remaining_kw": "10"}
    assert transacted["side"] == "buy" and transacted["quantity_kw"] == "4"
    assert filled == {"rate_kw": "4", "price_per_kwh": "0.08", "remaining_kw": "6"}
    assert option["option"] == {"type": "call", "holder_side": "buy", "strike_per_kwh": "0.1"}
    assert exercised["option_transaction_id"] == "opt-x"
    assert (exercised["side"], exercised["quantity_kw"], exercised["price_per_kwh"]) == ("buy", "6", "0.1")
    assert (exercised["start"], exercised["end"]) == ("2030-01-01T11:00:00Z", "2030-01-01T13:00:00Z")


def test_a_distribution_records_its_scope(service, engine):
    scope = msg.distribution_scope(groups=["north"])
    ok(service.call("/EiTender", msg.distribute_tender("r-dist", "party-A", ("d1", msg.product())), headers=[scope]))
    [event] = events(engine)
    assert event["details"]["recipients"] == 1
    assert event["details"]["scope"] == {"groups": ["north"], "service_areas": []}


def test_a_refused_request_records_nothing(service, engine):
    ok(service.call("/EiTender", msg.create_tender("r1", "party-A", "party-B", ("t1", msg.product()))))
    before = events(engine)
    refused = [
        # refused by the database at commit (a tenderID used before), and by the handler
        service.call("/EiTender", msg.create_tender("r2", "party-A", "party-B", ("t2", msg.product()), ("t1", msg.product()))),
        service.call("/EiTender", msg.cancel_tender("r3", "party-A", "t1", "no-such")),
        service.call("/EiTransaction", msg.create_transaction("r4", "party-B", "party-A", ("x1", "t1", msg.product(side="buy", quantity="11", state="transaction")))),
        service.call("/EiTender", msg.create_tender("r5", "party-A", "nobody", ("t3", msg.product()))),
    ]
    assert [reply.code != "200" for reply in refused] == [True] * 4
    assert events(engine) == before
    assert service.call("/EiTender", msg.create_tender("r2", "party-A", "party-B", ("t2", msg.product()))).code != "200"
    assert events(engine) == before  # a requestID answered with a refusal stays answered so


def test_a_retry_of_an_accepted_request_records_nothing_more(service, engine):
    request = msg.create_tender("r1", "party-A", "party-B", ("t1", msg.product()))
    ok(service.call("/EiTender", request))
    ok(service.call("/EiTender", request))
    assert [e["kind"] for e in events(engine)] == ["tender.created"]


def test_the_database_refuses_to_update_delete_or_truncate_the_audit_trail(service, engine):
    ok(service.call("/EiTender", msg.create_tender("r1", "party-A", "party-B", ("t1", msg.product()))))
    for statement in (
        "UPDATE audit_event SET actor = 'someone-else'",
        "DELETE FROM audit_event",
        "DELETE FROM audit_event WHERE false",  # refused as a statement, even touching no row
        "TRUNCATE audit_event",
    ):
        with pytest.raises(DBAPIError, match="audit_event is append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    assert brief(events(engine)) == [("tender.created", "party-A", "r1", "party-A", "party-B", "t1", None)]


# --- what a temix command records ------------------------------------------------------------


def test_temix_commands_record_the_operator_and_what_changed_never_the_password(
    engine, database_url, tmp_path, monkeypatch, capsys
):
    cli = lambda *args, stdin="": temix_cli(monkeypatch, capsys, database_url, tmp_path, *args, stdin=stdin)  # noqa: E731
    assert cli("market-context", "add", CTX, "--timezone", "Europe/Paris", "--currency", "EUR") == 0
    assert cli("party", "add", "carol", "--password-stdin", "--market-context", CTX, "--group", "north", stdin="pw-carol-1\n") == 0
    assert cli("party", "add", "dave", "--password-stdin", "--text-only", stdin="pw-dave-1\n") == 0
    assert cli("party", "enroll", "carol", "--service-area", "ZONE-1", "--group", "north") == 0
    assert cli("party", "unenroll", "carol", "--group", "north") == 0
    assert cli("party", "role", "dave", "--add", "registrar") == 0
    # refused or changing nothing: not recorded
    assert cli("party", "role", "dave", "--add", "registrar") == 0
    assert cli("party", "add", "carol", "--password-stdin", stdin="other\n") == 1
    assert cli("party", "unenroll", "carol", "--group", "north") == 0
    assert cli("market-context", "add", CTX) == 1

    found = events(engine)
    assert [(e["kind"], e["actor"], e["request_id"], e["party_id"], e["details"]) for e in found] == [
        ("market_context.added", "operator:market-context add", None, None, {
            "market_context": CTX, "timezone": "Europe/Paris", "currency": "EUR", "energy_unit": "kWh",
            "option_lead_time": "PT1H", "option_granularity": "PT1H", "settlement_interval": "PT1H",
        }),
        ("party.added", "operator:party add", None, "carol", {"market_contexts": [CTX], "groups": ["north"], "digest_enabled": True}),
        ("party.added", "operator:party add", None, "dave", {"digest_enabled": False}),
        ("party.enrolled", "operator:party enroll", None, "carol", {"service_areas": ["ZONE-1"]}),
        ("party.unenrolled", "operator:party unenroll", None, "carol", {"groups": ["north"]}),
        ("party.roles_changed", "operator:party role", None, "dave", {"added": ["registrar"], "removed": []}),
    ]
    with engine.connect() as conn:
        everything = conn.execute(text("SELECT string_agg(details::text || actor, ' ') FROM audit_event")).scalar_one()
        # in the same transaction as the change it records
        assert conn.execute(text("SELECT count(DISTINCT xmin::text) FROM audit_event")).scalar_one() == 6
        same = conn.execute(
            text("SELECT count(*) FROM audit_event a JOIN party p ON p.xmin::text = a.xmin::text WHERE a.kind = 'party.added'")
        ).scalar_one()
    assert same == 2
    assert "pw-" not in everything and "scrypt" not in everything


def test_credential_commands_record_what_changed_and_a_disabled_party_s_tenders_as_cancelled(
    service, engine, database_url, tmp_path, monkeypatch, capsys
):
    ok(service.call("/EiTender", msg.create_tender("r1", "party-A", "party-B", ("t1", msg.product()))))
    cli = lambda *args, stdin="": temix_cli(monkeypatch, capsys, database_url, tmp_path, *args, stdin=stdin)  # noqa: E731
    fingerprint = "ab" * 32
    assert cli("party", "passwd", "party-A", "--password-stdin", "--text-only", stdin="pw-new-1\n") == 0
    assert cli("party", "cert", "add", "party-A", "--fingerprint", fingerprint) == 0
    assert cli("party", "set", "party-A", "--require-wssecurity", "no") == 0
    assert cli("party", "cert", "remove", "party-A", fingerprint) == 0
    assert cli("party", "disable", "party-A") == 0
    assert cli("party", "disable", "party-A") == 0  # already disabled: nothing recorded
    assert cli("party", "enable", "party-A") == 0

    found = [(e["kind"], e["actor"], e["party_id"], e["tender_id"], e["details"]) for e in events(engine)[1:]]
    assert found == [
        ("party.password_changed", "operator:party passwd", "party-A", None, {"digest_enabled": False}),
        ("certificate.bound", "operator:party cert add", "party-A", None, {"fingerprint": fingerprint}),
        ("party.wssecurity_set", "operator:party set", "party-A", None, {"require_wssecurity": False}),
        ("certificate.removed", "operator:party cert remove", "party-A", None, {"fingerprint": fingerprint}),
        ("party.disabled", "operator:party disable", "party-A", None, {"cancelled_tenders": 1}),
        ("tender.cancelled", "operator:party disable", "party-A", "t1", {"reason": "party disabled"}),
        ("party.enabled", "operator:party enable", "party-A", None, {}),
    ]
    with engine.connect() as conn:
        everything = conn.execute(text("SELECT string_agg(details::text, ' ') FROM audit_event")).scalar_one()
    assert "pw-new" not in everything


def test_a_server_key_rotation_records_how_many_secrets_it_resealed(engine, database_url, tmp_path, monkeypatch, capsys):
    cli = lambda *args, stdin="": temix_cli(monkeypatch, capsys, database_url, tmp_path, *args, stdin=stdin)  # noqa: E731
    assert cli("party", "add", "erin", "--password-stdin", stdin="pw-erin-1\n") == 0
    assert cli("secret", "rotate") == 0

    assert [(e["kind"], e["actor"], e["details"]) for e in events(engine)][1:] == [
        ("server_key.rotated", "operator:secret rotate", {"resealed": 1}),
    ]


# --- temix audit -----------------------------------------------------------------------------


@pytest.fixture
def trail(service, engine):
    """A and B trade t1; A tenders t2 to C; A cancels t3 (to B)."""
    ok(service.call("/EiTender", msg.create_tender("r1", "party-A", "party-B", ("t1", msg.product()), ("t3", msg.product()))))
    ok(service.call("/EiTender", msg.create_tender("r2", "party-A", "party-C", ("t2", msg.product()))))
    ok(service.call("/EiTransaction", msg.create_transaction("r3", "party-B", "party-A", ("x1", "t1", msg.product(side="buy", state="transaction")))))
    ok(service.call("/EiTender", msg.cancel_tender("r4", "party-A", "t3")))


def test_temix_audit_writes_json_lines_in_time_order(trail, database_url, tmp_path, monkeypatch, capsys):
    lines = temix_audit(monkeypatch, capsys, database_url, tmp_path, "--format", "json")
    found = [json.loads(line) for line in lines]
    assert [(e["kind"], e["tender_id"], e["request_id"]) for e in found] == [
        ("tender.created", "t1", "r1"), ("tender.created", "t3", "r1"), ("tender.created", "t2", "r2"),
        ("transaction.created", "t1", "r3"), ("tender.filled", "t1", "r3"), ("tender.cancelled", "t3", "r4"),
    ]
    assert found[4] == {
        "at": "2029-12-31T12:00:00Z", "actor": "party-B", "request_id": "r3", "kind": "tender.filled",
        "party_id": "party-A", "counterparty_id": "party-B", "tender_id": "t1", "transaction_id": "x1",
        "details": {"rate_kw": "10", "price_per_kwh": "0.08", "remaining_kw": "0"},
    }


def test_temix_audit_filters_by_party_tender_and_time(trail, service, clock, database_url, tmp_path, monkeypatch, capsys):
    clock.advance(days=1)
    ok(service.call("/EiTender", msg.create_tender("r5", "party-C", "party-B", ("t9", msg.product()))))
    kinds = lambda *args: [  # noqa: E731
        (e["kind"], e["tender_id"])
        for e in map(json.loads, temix_audit(monkeypatch, capsys, database_url, tmp_path, "--format", "json", *args))
    ]
    assert kinds("--party", "party-C") == [("tender.created", "t2"), ("tender.created", "t9")]
    assert kinds("--tender", "t1") == [("tender.created", "t1"), ("transaction.created", "t1"), ("tender.filled", "t1")]
    assert kinds("--party", "party-C", "--tender", "t9") == [("tender.created", "t9")]
    assert kinds("--from", "2030-01-01") == [("tender.created", "t9")]
    assert kinds("--to", "2030-01-01T00:00:00Z", "--party", "party-C") == [("tender.created", "t2")]
    assert kinds("--from", "2029-12-31T12:00:00+00:00", "--to", "2029-12-31T12:00:01Z", "--tender", "t3") == [
        ("tender.created", "t3"), ("tender.cancelled", "t3"),
    ]


def test_temix_audit_table_has_a_header_and_one_line_per_event(trail, database_url, tmp_path, monkeypatch, capsys):
    lines = temix_audit(monkeypatch, capsys, database_url, tmp_path, "--tender", "t3")
    assert lines[0].split() == ["TIME", "ACTOR", "REQUEST", "EVENT", "PARTY", "COUNTERPARTY", "TENDER", "TRANSACTION", "DETAILS"]
    assert [line.split()[:8] for line in lines[1:]] == [
        ["2029-12-31T12:00:00Z", "party-A", "r1", "tender.created", "party-A", "party-B", "t3", "-"],
        ["2029-12-31T12:00:00Z", "party-A", "r4", "tender.cancelled", "party-A", "party-B", "t3", "-"],
    ]
    assert lines[2].endswith("remaining_kw=10")


def test_temix_audit_derives_expiry_from_tenders_that_stood_until_their_expiration(
    service, clock, database_url, tmp_path, monkeypatch, capsys
):
    # decided on a clock before the real one, so these tenders have expired by now
    clock.now = datetime(2026, 1, 1, tzinfo=UTC)
    start, expires = "2026-01-02T10:00:00Z", "2026-01-01T06:00:00Z"
    offers = [(tid, msg.product(start=start, expires=expires)) for tid in ("e-stood", "e-cancelled", "e-filled", "e-part")]
    ok(service.call("/EiTender", msg.create_tender("r1", "party-A", "party-B", *offers)))
    ok(service.call("/EiTender", msg.cancel_tender("r2", "party-A", "e-cancelled")))
    take = lambda rid, xid, tid, qty: ok(service.call("/EiTransaction", msg.create_transaction(  # noqa: E731
        rid, "party-B", "party-A", (xid, tid, msg.product(side="buy", quantity=qty, start=start, state="transaction")))))
    take("r3", "x1", "e-filled", "10")
    take("r4", "x2", "e-part", "3")

    found = [json.loads(line) for line in temix_audit(monkeypatch, capsys, database_url, tmp_path, "--format", "json")]
    expired = [e for e in found if e["kind"] == "tender.expired"]
    assert [(e["tender_id"], e["actor"], e["at"], e["request_id"], e["details"]) for e in expired] == [
        ("e-stood", "clock", "2026-01-01T06:00:00Z", None, {"remaining_kw": "10", "quantity_kw": "10"}),
        ("e-part", "clock", "2026-01-01T06:00:00Z", None, {"remaining_kw": "7", "quantity_kw": "10"}),
    ]
    assert found[-2:] == expired  # in time order, after what happened before the expiry
    assert temix_audit(monkeypatch, capsys, database_url, tmp_path, "--format", "json", "--to", "2026-01-01T06:00:00Z")[-1].find("expired") == -1


def test_temix_audit_refuses_a_window_that_ends_before_it_starts(database_url, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert run(["audit", "--from", "2030-01-02", "--to", "2030-01-01"]) == 1
    assert "--from must be before --to" in capsys.readouterr().err


def test_a_request_s_events_travel_with_its_commit_in_no_extra_round_trip(service, engine, monkeypatch):
    from service.store.uow import UnitOfWork

    sent = []
    original = UnitOfWork._send

    def counted(self, statement, *, begin):
        sent.append(statement)
        return original(self, statement, begin=begin)

    ok(service.call("/EiTender", msg.request_tender("q1", "party-A")))  # credentials now remembered
    ok(service.call("/EiTender", msg.request_tender("q2", "party-B")))
    monkeypatch.setattr(UnitOfWork, "_send", counted)
    ok(service.call("/EiTender", msg.create_tender("r1", "party-A", "party-B", ("t1", msg.product()), ("t2", msg.product()))))
    assert len(sent) == 1  # tenders, request log and audit events: one message, as without the audit
    sent.clear()
    ok(service.call("/EiTransaction", msg.create_transaction("r2", "party-B", "party-A", ("x1", "t1", msg.product(side="buy", state="transaction")))))
    assert len(sent) == 2 and sent[-1] == b"COMMIT"  # the tender lock, then the writes with COMMIT
    assert [e["kind"] for e in events(engine)] == ["tender.created"] * 2 + ["transaction.created", "tender.filled"]


def test_the_trail_is_read_through_a_server_side_cursor_a_batch_at_a_time(trail, engine):
    from service.store.audit import AuditFilter, stream_events

    with engine.connect() as conn:
        stream = stream_events(conn, AuditFilter(), datetime.now(UTC), batch=2)
        first = next(stream)
        open_cursors = conn.execute(text("SELECT count(*) FROM pg_cursors WHERE NOT is_holdable")).scalar_one()
        rest = list(stream)
    assert open_cursors == 1  # the rows stay on the server until fetched
    assert [first.kind, *(event.kind for event in rest)] == [
        "tender.created", "tender.created", "tender.created", "transaction.created", "tender.filled", "tender.cancelled",
    ]


def test_temix_audit_piped_into_head_stops_quietly(engine, database_url, temix_env):
    import subprocess
    import sys

    with engine.begin() as conn:  # more than a pipe's buffer of events
        conn.execute(text(
            "INSERT INTO audit_event (actor, kind, party_id, details)"
            " SELECT 'operator:test', 'party.added', 'p-' || n, '{\"groups\": [\"north\"]}' FROM generate_series(1, 3000) n"
        ))
    env = {**temix_env, "DATABASE_URL": database_url}
    process = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "audit", "--format", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )
    first = json.loads(process.stdout.readline())
    process.stdout.close()  # as `head -1` does
    _, stderr = process.communicate(timeout=120)
    assert first["kind"] == "party.added"
    assert process.returncode == 0
    assert b"Broken pipe" not in stderr and b"Traceback" not in stderr
