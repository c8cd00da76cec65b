"""The request log behind idempotency: (party, requestID) -> the exact answer given."""

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from service.store.tables import request_log


@dataclass(frozen=True)
class LoggedRequest:
    operation: str
    body_digest: bytes
    response: bytes | None


def record(conn, party_id: str, request_id: str, operation: str, body_digest: bytes, response: bytes) -> bool:
    """Log the answer to (party, requestID); False if one was logged first. A concurrent twin
    with the same requestID makes this insert wait until that twin commits or rolls back."""
    row = conn.execute(
        insert(request_log)
        .values(
            party_id=party_id, request_id=request_id, operation=operation, body_digest=body_digest, response=response
        )
        .on_conflict_do_nothing()
        .returning(request_log.c.request_id)
    ).first()
    return row is not None


def find(conn, party_id: str, request_id: str) -> LoggedRequest:
    row = conn.execute(
        select(request_log.c.operation, request_log.c.body_digest, request_log.c.response).where(
            request_log.c.party_id == party_id, request_log.c.request_id == request_id
        )
    ).one()
    return LoggedRequest(row.operation, bytes(row.body_digest), row.response and bytes(row.response))
