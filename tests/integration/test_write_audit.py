"""The fuzz test's write audit (tests.support.write_audit) on a real PostgreSQL: every row written
since a mark is traced to the transaction that wrote it and the answer logged with it."""

from __future__ import annotations

from sqlalchemy import text

from tests.support import write_audit as audit

READS = ("EiRequestTender",)


def log_answer(conn, request_id: str, code: str, operation: str = "EiCancelTender") -> None:
    response = (
        f'<r xmlns:ei="http://docs.oasis-open.org/ns/energyinterop/201110/cts.04"><ei:eiResponse>'
        f"<ei:responseCode>{code}</ei:responseCode></ei:eiResponse></r>"
    )
    conn.execute(
        text("INSERT INTO request_log (party_id, request_id, operation, response) VALUES ('p', :r, :o, :b)"),
        {"r": request_id, "o": operation, "b": response.encode()},
    )


def add_market(conn, uri: str) -> None:
    conn.execute(text("INSERT INTO market_context (market_context) VALUES (:u)"), {"u": uri})


def audit_since(engine, since, answers):
    with engine.connect() as conn:
        written, logged, shrunk = audit.writes_since(conn, since)
    return audit.unexplained(written, logged, answers, READS), shrunk


def test_writes_with_their_accepted_answer_are_explained(engine):
    with engine.connect() as conn:
        since = audit.mark(conn)
    with engine.begin() as conn:
        add_market(conn, "urn:a")
        log_answer(conn, "r1", "200")
    problems, shrunk = audit_since(engine, since, {("p", "r1"): ["code 200"]})
    assert problems == [] and shrunk == []


def test_a_write_without_a_logged_answer_a_refused_write_and_a_logged_read_are_reported(engine):
    with engine.connect() as conn:
        since = audit.mark(conn)
    with engine.begin() as conn:
        add_market(conn, "urn:no-answer")
    with engine.begin() as conn:
        add_market(conn, "urn:refused")
        log_answer(conn, "r2", "404")
    with engine.begin() as conn:
        log_answer(conn, "r3", "400", operation="EiRequestTender")
    answers = {("p", "r2"): ["code 404"], ("p", "r3"): ["code 400"]}
    problems, _ = audit_since(engine, since, answers)
    assert [(problem.split(":")[0].split(" (")[0], key) for problem, key in problems] == [
        ("written by a transaction that logged no answer", None),
        ("a refused request", ("p", "r2")),
        ("a EiRequestTender was logged in the request log", ("p", "r3")),
    ]


def test_an_update_is_traced_like_an_insert_and_a_delete_shows_as_fewer_rows(engine):
    with engine.begin() as conn:
        add_market(conn, "urn:kept")
        add_market(conn, "urn:gone")
    with engine.connect() as conn:
        since = audit.mark(conn)
    with engine.begin() as conn:
        conn.execute(text("UPDATE market_context SET currency = 'EUR' WHERE market_context = 'urn:kept'"))
        conn.execute(text("DELETE FROM market_context WHERE market_context = 'urn:gone'"))
    problems, shrunk = audit_since(engine, since, {})
    assert [problem for problem, _ in problems] == ["written by a transaction that logged no answer: ['market_context']"]
    assert shrunk == ["market_context: 2 -> 1 rows"]


def test_an_answer_logged_other_than_the_client_got_is_reported(engine):
    with engine.connect() as conn:
        since = audit.mark(conn)
    with engine.begin() as conn:
        log_answer(conn, "r4", "200")
    problems, _ = audit_since(engine, since, {("p", "r4"): ["fault soap11env:Server"]})
    assert problems == [("logged answer 200 but the client got ['fault soap11env:Server']", ("p", "r4"))]


def add_membership(conn, party: str, group: str, registration: str | None = None) -> None:
    conn.execute(text("INSERT INTO party (party_id, password_hash) VALUES (:p, 'x') ON CONFLICT DO NOTHING"), {"p": party})
    conn.execute(text("INSERT INTO party_group (party_id, group_name) VALUES (:p, :g)"), {"p": party, "g": group})
    if registration is not None:
        conn.execute(
            text("INSERT INTO registration (registration_id, party_id, registrar_id, request_id, created_at)"
                 " VALUES (:r, :p, :p, :r, now())"),
            {"r": registration, "p": party},
        )
        conn.execute(
            text("INSERT INTO registration_membership (registration_id, kind, name) VALUES (:r, 'group', :g)"),
            {"r": registration, "g": group},
        )


def test_a_membership_taken_out_is_explained_only_by_a_registration_cancelled_since_the_mark(engine):
    with engine.begin() as conn:
        add_membership(conn, "audit-party", "by-registration", "audit-reg-1")
        add_membership(conn, "audit-party", "by-nothing")
    with engine.connect() as conn:
        since = audit.mark(conn)
    with engine.begin() as conn:
        conn.execute(text("UPDATE registration SET cancelled_at = now() WHERE registration_id = 'audit-reg-1'"))
        conn.execute(text("DELETE FROM party_group WHERE party_id = 'audit-party'"))
        log_answer(conn, "r5", "200", operation="EiCancelPartyRegistration")
    problems, shrunk = audit_since(engine, since, {("p", "r5"): ["code 200"]})
    assert problems == []
    assert shrunk == ["group 'by-nothing' of audit-party taken out, by no registration cancelled"]
