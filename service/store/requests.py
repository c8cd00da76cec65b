"""The request log behind idempotency (``uow.requests``): (party, requestID) -> the request
and the exact answer. PostgreSQL SQL through the unit of work.

The request is kept as the bytes it came in (cheap to store); whether a retry is the same
request is decided only when one comes, which is rare.
"""

from __future__ import annotations

from dataclasses import dataclass

PRIMARY_KEY = "request_log_pkey"

_LOG = (
    "INSERT INTO request_log (party_id, request_id, operation, request_body, response) VALUES (%s, %s, %s, %s, %s)"
)


class AnsweredFirstError(Exception):
    """An answer under this requestID was logged first (a retry, or a concurrent twin)."""


@dataclass(frozen=True)
class LoggedRequest:
    operation: str
    request_body: bytes | None  # None for requests logged before request bodies were kept
    body_digest: bytes | None  # the C14N 2.0 digest those older rows kept instead
    response: bytes | None


def _bytes(value) -> bytes | None:
    return None if value is None else bytes(value)


class RequestLog:
    """``uow.requests``."""

    def __init__(self, uow):
        self._uow = uow

    def queue_answer(self, party_id: str, request_id: str, operation: str, request_body: bytes, response: bytes) -> None:
        """Log the answer with the transaction's commit. A concurrent twin with the same requestID
        makes the commit wait until the twin ends, then fail with AnsweredFirstError if it committed."""
        statement = self._uow.sql("temix_log_answer", _LOG, (party_id, request_id, operation, request_body, response))
        self._uow.queue(statement, refusals={PRIMARY_KEY: AnsweredFirstError})

    def record(self, party_id: str, request_id: str, operation: str, request_body: bytes, response: bytes) -> bool:
        """Log the answer now; False if one was logged first."""
        query = _LOG + " ON CONFLICT DO NOTHING RETURNING request_id"
        params = (party_id, request_id, operation, request_body, response)
        return bool(self._uow.fetch(self._uow.sql("temix_record_answer", query, params)))

    def find(self, party_id: str, request_id: str) -> LoggedRequest:
        query = "SELECT operation, request_body, body_digest, response FROM request_log WHERE party_id = %s AND request_id = %s"
        [(operation, request_body, body_digest, response)] = self._uow.fetch(
            self._uow.sql("temix_find_answer", query, (party_id, request_id))
        )
        return LoggedRequest(operation, _bytes(request_body), _bytes(body_digest), _bytes(response))
