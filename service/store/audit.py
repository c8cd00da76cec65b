"""The audit trail in PostgreSQL: written with the change it records, read as a stream.

A request's events (``uow.audit``): the pipeline says who acts (``act_as``), handlers say what
changed (``uow.audit.record(kind, subject, details)``), and the unit of work sends every
event of the request as ONE multi-row INSERT queued with its COMMIT: the same transaction as
the change, no extra round trip, and nothing at all if the request is refused.

A ``temix`` command's events (``record_operator``): the same INSERT on the command's
SQLAlchemy connection, inside the transaction that makes the change.

Reading (``stream_events``): a server-side cursor, so ``temix audit`` holds one batch in
memory whatever the length of the trail. Expiry happens by time, not by a request, so no
transaction ever records it: ``tender.expired`` events are derived from the tenders when
read (a tender still standing when its ``expirationDate`` passed, before its delivery began).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, text

from service.domain.audit import CLOCK, TENDER_EXPIRED, AuditEvent, Subject, check_details, operator
from service.store.tables import audit_event

def _row(at, actor: str, request_id: str | None, kind: str, subject: Subject, details: dict | None) -> dict:
    return {
        "at": at,
        "actor": actor,
        "request_id": request_id,
        "kind": kind,
        "party_id": subject.party_id,
        "counterparty_id": subject.counterparty_id,
        "tender_id": subject.tender_id,
        "transaction_id": subject.transaction_id,
        "details": check_details(details or {}),
    }


class AuditTrail:
    """``uow.audit``: the events of one request, sent with its commit."""

    def __init__(self, uow):
        self._uow = uow
        self._actor: str | None = None
        self._request_id: str | None = None
        self._at: datetime | None = None
        self._rows: list[dict] = []

    def act_as(self, actor: str, request_id: str | None, at: datetime) -> None:
        """Who makes this unit's changes, under which requestID, at what server time."""
        self._actor, self._request_id, self._at = actor, request_id, at

    def record(self, kind: str, subject: Subject, details: dict | None = None) -> None:
        """One event, written with the unit's commit (never, if it rolls back)."""
        if self._actor is None:
            raise RuntimeError("uow.audit.act_as(...) first: an event needs its actor")
        row = _row(self._at, self._actor, self._request_id, kind, subject, details)
        row["details"] = json.dumps(row["details"], separators=(",", ":"))  # sent as text, stored as jsonb
        self._rows.append(row)

    def pending(self) -> bytes | None:
        """The INSERT of the events recorded since the last call (None if none)."""
        rows, self._rows = self._rows, []
        if not rows:
            return None
        return self._uow.insert_sql("temix_audit", "audit_event", rows)

    def copy_pending(self) -> None:
        """COPY the events recorded since the last call now, inside the unit's transaction
        (a settlement run's thousands, a chunk at a time)."""
        rows, self._rows = self._rows, []
        self._uow.copy("audit_event", rows)


def record_operator(conn: Connection, command: str, kind: str, subject: Subject, details: dict | None = None) -> None:
    """Record a change made with ``temix COMMAND`` in the connection's transaction (the one
    making the change): actor ``operator:COMMAND``, no requestID, the database's time."""
    row = _row(None, operator(command), None, kind, subject, details)
    del row["at"]  # the server default: the transaction's time
    conn.execute(audit_event.insert().values(row))


# --- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditFilter:
    """Which events ``temix audit`` shows: all of them by default. ``party_id`` matches either
    party of the subject (an acting party is always one of them), ``since`` is inclusive and
    ``until`` exclusive."""

    party_id: str | None = None
    tender_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


_RECORDED = (
    "SELECT at, 1 AS source, id, actor, request_id, kind, party_id, counterparty_id, tender_id, transaction_id,"
    " details::text FROM audit_event e WHERE true"
)
# A tender expired if its expiry passed while it stood: not filled, not cancelled before, and
# its delivery not begun (trading on an interval closes when it begins).
_EXPIRED = (
    "SELECT expires_at, 0, id, :clock, NULL, :expired, party_id, counterparty_id, tender_id, NULL,"
    " json_build_object('remaining_kw', remaining_kw::text, 'quantity_kw', quantity_kw::text)::text"
    " FROM tender e WHERE expires_at <= :now AND expires_at <= start_at AND remaining_kw > 0"
    " AND (cancelled_at IS NULL OR cancelled_at > expires_at)"
)


def _narrowed(query: str, time_column: str, wanted: AuditFilter) -> str:
    if wanted.party_id is not None:
        query += " AND (e.party_id = :party OR e.counterparty_id = :party)"
    if wanted.tender_id is not None:
        query += " AND e.tender_id = :tender"
    if wanted.since is not None:
        query += f" AND e.{time_column} >= :since"
    if wanted.until is not None:
        query += f" AND e.{time_column} < :until"
    return query


def stream_events(conn: Connection, wanted: AuditFilter, now: datetime, batch: int = 1000) -> Iterator[AuditEvent]:
    """The events ``wanted``, in time order (a request's in the order recorded), expiries
    derived up to ``now``; read from a server-side cursor ``batch`` rows at a time."""
    query = (
        f"{_narrowed(_RECORDED, 'at', wanted)} UNION ALL {_narrowed(_EXPIRED, 'expires_at', wanted)}"
        " ORDER BY 1, 2, 3"
    )
    params = {
        "clock": CLOCK, "expired": TENDER_EXPIRED, "now": now,
        "party": wanted.party_id, "tender": wanted.tender_id, "since": wanted.since, "until": wanted.until,
    }
    streamed = {"stream_results": True, "max_row_buffer": batch}  # this statement only, not the connection
    result = conn.execute(text(query), params, execution_options=streamed)
    try:
        for at, _, _, actor, request_id, kind, party_id, counterparty_id, tender_id, transaction_id, details in result:
            yield AuditEvent(
                at, actor, request_id, kind, Subject(party_id, counterparty_id, tender_id, transaction_id),
                json.loads(details),
            )
    finally:
        result.close()

