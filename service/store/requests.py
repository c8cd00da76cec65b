"""The request log behind idempotency: (party, requestID) -> the request and the exact answer.

The request is kept as the bytes it came in (cheap to store); whether a retry is the same
request is decided only when one comes (``LoggedRequest.body``), which is rare.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from service.store.tables import request_log

PRIMARY_KEY = "request_log_pkey"


class AnsweredFirstError(Exception):
    """An answer under this requestID was logged first (a retry, or a concurrent twin)."""


@dataclass(frozen=True)
class LoggedRequest:
    operation: str
    request_body: bytes | None  # None for requests logged before request bodies were kept
    body_digest: bytes | None  # the C14N 2.0 digest those older rows kept instead
    response: bytes | None


def queue_answer(uow, party_id: str, request_id: str, operation: str, request_body: bytes, response: bytes) -> None:
    """Log the answer with the transaction's commit. A concurrent twin with the same requestID
    makes the commit wait until the twin ends, then fail with AnsweredFirstError if it committed."""
    uow.queue(
        uow.sql(
            "temix_log_answer",
            "INSERT INTO request_log (party_id, request_id, operation, request_body, response)"
            " VALUES (%s, %s, %s, %s, %s)",
            (party_id, request_id, operation, request_body, response),
        ),
        refusals={PRIMARY_KEY: AnsweredFirstError},
    )


def record(conn, party_id: str, request_id: str, operation: str, request_body: bytes, response: bytes) -> bool:
    """Log the answer now; False if one was logged first."""
    row = conn.execute(
        insert(request_log)
        .values(
            party_id=party_id, request_id=request_id, operation=operation, request_body=request_body, response=response
        )
        .on_conflict_do_nothing()
        .returning(request_log.c.request_id)
    ).first()
    return row is not None


def find(conn, party_id: str, request_id: str) -> LoggedRequest:
    r = request_log.c
    row = conn.execute(
        select(r.operation, r.request_body, r.body_digest, r.response).where(
            r.party_id == party_id, r.request_id == request_id
        )
    ).one()
    return LoggedRequest(
        row.operation,
        row.request_body and bytes(row.request_body),
        row.body_digest and bytes(row.body_digest),
        row.response and bytes(row.response),
    )
