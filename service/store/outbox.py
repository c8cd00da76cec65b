"""The outbox: EiCreateTransaction messages to push to parties' own endpoints.

Written by a request (``uow.outbox``), in the database transaction of the fills they tell
of: one row per fill per party that has a callback URL then, or none if the request is
refused. Read and updated by the push worker (``service.push``), one party's head message at
a time: the head is row-locked for the whole attempt (FOR UPDATE SKIP LOCKED, so a second
worker passes over a party another is sending to, rather than sending its next message out of
order) and marked delivered or failed in the same transaction. Rows are kept once delivered:
they are the delivery record (``temix outbox``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import Connection, text

from service.domain.push import Attempted, request_id_for, state_of
from service.domain.tenders import Side

# One row per (party, transaction) whose party has a callback URL, in the order given (so ids
# follow the fills' order).
_ADD = (
    "INSERT INTO outbox (party_id, sender_id, transaction_id, request_id)"
    " SELECT u.party_id, %s, u.transaction_id, u.request_id"
    " FROM unnest(%s::text[], %s::text[], %s::text[]) WITH ORDINALITY AS u(party_id, transaction_id, request_id, n)"
    " JOIN party p ON p.party_id = u.party_id WHERE p.callback_url IS NOT NULL ORDER BY u.n"
)

# A party's head message, if it is due and no other worker holds it. The head is found
# without regard to locks; the outer conditions are checked again on the row's newest
# version once it is locked, so a head another worker delivered meanwhile is not sent again.
_CLAIM_HEAD = text(
    "SELECT o.id, o.party_id, o.sender_id, o.transaction_id, o.request_id, o.attempts, p.callback_url,"
    " t.tender_id, x.side, convert_from(x.product_xml, 'UTF8')"
    " FROM outbox o JOIN party p ON p.party_id = o.party_id"
    " JOIN transaction x ON x.party_id = o.sender_id AND x.transaction_id = o.transaction_id"
    " JOIN tender t ON t.id = x.tender_pk"
    " WHERE o.id = (SELECT min(h.id) FROM outbox h WHERE h.party_id = :party AND h.delivered_at IS NULL)"
    " AND o.delivered_at IS NULL AND o.next_attempt_at <= :now AND p.callback_url IS NOT NULL"
    " FOR UPDATE OF o SKIP LOCKED"
)
_DUE_PARTIES = text(
    "SELECT o.party_id FROM outbox o JOIN party p ON p.party_id = o.party_id"
    " WHERE o.delivered_at IS NULL AND p.callback_url IS NOT NULL"
    " GROUP BY o.party_id HAVING min(o.next_attempt_at) <= :now ORDER BY min(o.id)"
)
_RECORD = text(
    "UPDATE outbox SET attempts = :attempts, next_attempt_at = :next_attempt_at, last_error = :last_error,"
    " delivered_at = :delivered_at WHERE id = :id"
)
_STATE_SQL = {
    "pending": "o.delivered_at IS NULL AND o.last_error IS NULL",
    "failed": "o.delivered_at IS NULL AND o.last_error IS NOT NULL",
    "delivered": "o.delivered_at IS NOT NULL",
}


class OutboxRepository:
    """``uow.outbox``."""

    def __init__(self, uow):
        self._uow = uow

    def add(self, sender_id: str, made: Iterable[tuple[str, str]]) -> None:
        """Queue a message from ``sender_id`` for each (party, transactionID) of ``made`` (the
        sender's transactions with that party), for those parties with a callback URL."""
        made = list(made)
        if not made:
            return
        parties = [party_id for party_id, _ in made]
        ids = [transaction_id for _, transaction_id in made]
        requests = [request_id_for(transaction_id) for transaction_id in ids]
        uow = self._uow
        uow.queue(uow.sql("temix_outbox_add", _ADD, (sender_id, parties, ids, requests)))


@dataclass(frozen=True)
class Message:
    """A claimed head message, with what the EiCreateTransaction is made of: the party's
    tender, and the sender's transaction's product (on the sender's side)."""

    pk: int
    party_id: str
    sender_id: str
    transaction_id: str
    request_id: str
    attempts: int
    callback_url: str
    tender_id: str
    party_side: Side
    product_xml: bytes


@dataclass(frozen=True)
class OutboxRow:
    pk: int
    party_id: str
    sender_id: str
    transaction_id: str
    request_id: str
    created_at: datetime
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    delivered_at: datetime | None

    @property
    def state(self) -> str:
        return state_of(self.delivered_at, self.last_error)


def due_parties(conn: Connection, now: datetime) -> list[str]:
    """Parties with a callback URL and an undelivered message that may be due, oldest first."""
    return [party_id for (party_id,) in conn.execute(_DUE_PARTIES, {"now": now})]


def claim_head(conn: Connection, party_id: str, now: datetime) -> Message | None:
    """The party's head message, locked until the connection's transaction ends; None if it
    has none due, or another worker holds it."""
    row = conn.execute(_CLAIM_HEAD, {"party": party_id, "now": now}).first()
    if row is None:
        return None
    pk, party, sender, transaction_id, request_id, attempts, url, tender_id, sender_side, product = row
    return Message(
        pk, party, sender, transaction_id, request_id, attempts, url, tender_id,
        Side(sender_side).opposite, product.encode(),
    )


def record_attempt(conn: Connection, pk: int, attempted: Attempted) -> None:
    conn.execute(_RECORD, {"id": pk, **asdict(attempted)})


def list_outbox(conn: Connection, party_id: str | None = None, state: str | None = None, limit: int = 1000) -> list[OutboxRow]:
    """The outbox's rows, oldest first, of one party and in one state if given."""
    conditions, params = [], {"limit": limit}
    if party_id is not None:
        conditions.append("o.party_id = :party")
        params["party"] = party_id
    if state is not None:
        conditions.append(_STATE_SQL[state])
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    query = text(
        "SELECT o.id, o.party_id, o.sender_id, o.transaction_id, o.request_id, o.created_at, o.attempts,"
        f" o.next_attempt_at, o.last_error, o.delivered_at FROM outbox o{where} ORDER BY o.id LIMIT :limit"
    )
    return [OutboxRow(*row) for row in conn.execute(query, params)]


def set_callback_url(conn: Connection, party_id: str, url: str | None) -> tuple[bool, str | None]:
    """Set (or clear, with None) the party's callback URL: (whether the party exists, the URL
    before)."""
    row = conn.execute(
        text("SELECT callback_url FROM party WHERE party_id = :party FOR UPDATE"), {"party": party_id}
    ).first()
    if row is None:
        return False, None
    conn.execute(text("UPDATE party SET callback_url = :url WHERE party_id = :party"), {"party": party_id, "url": url})
    return True, row[0]


def callback_url_of(conn: Connection, party_id: str) -> tuple[bool, str | None]:
    """(whether the party exists, its callback URL)."""
    row = conn.execute(text("SELECT callback_url FROM party WHERE party_id = :party"), {"party": party_id}).first()
    return (False, None) if row is None else (True, row[0])
