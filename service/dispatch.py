"""The request pipeline: check sizes, authenticate, check who speaks, run the operation, validate, commit.

One request = one unit of work. State-changing operations are idempotent on
(party, requestID): the first answer is logged with the request, in the same transaction as
the writes (sent with its COMMIT), and given again, byte for byte, to any retry; a different
request under the same requestID is refused. A refused request's writes are rolled back and
its refusal is logged in a second transaction (the first wrote nothing), which keeps the
common, accepted path free of savepoints.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from lxml import etree

from service import handlers as h
from service.handlers import options, positions, tenders, transactions
from service.auth.wssecurity import Authenticator, read_username_token
from service.domain.errors import RequestIdReusedError, TemixError
from service.domain.markets import MarketContext
from service.soap import mapping as m
from service.soap.bounds import check_bounds
from service.soap.faults import DatabaseUnavailableFault, ImpersonationFault, UnknownOperationFault
from service.soap.ns import EI, PYLD, TEMIX, q
from service.soap.schema import SchemaSet
from service.soap.scope import DistributionScope, read_distribution_scope
from service.store import requests
from service.store.db import DatabaseUnavailableError
from service.store.uow import UnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Operation:
    name: str
    endpoint: str
    handler: Callable[[h.Request], etree._Element]
    reply: Callable[..., etree._Element]  # (request, eiResponse) -> the refusal reply
    idempotent: bool


OPERATIONS = {
    op.name: op
    for op in (
        Operation("EiCreateTender", "EiTender", tenders.create_tender, h.reply_created_tender, True),
        Operation("EiDistributeTender", "EiTender", tenders.distribute_tender, h.reply_distributed_tender, True),
        Operation("EiCancelTender", "EiTender", tenders.cancel_tender, h.reply_canceled_tender, True),
        Operation("EiRequestTender", "EiTender", tenders.request_tender, h.reply_tenders, False),
        Operation("EiCreateTransaction", "EiTransaction", transactions.create_transaction, h.reply_created_transaction, True),
        Operation("EiRequestTransaction", "EiTransaction", transactions.request_transaction, h.reply_transactions, False),
        Operation("EiRequestPosition", "EiTransaction", positions.request_position, h.reply_positions, False),
        Operation("EiExerciseOption", "EiTransaction", options.exercise_option, h.reply_exercised_option, True),
    )
}
# The payload element that selects each operation.
PAYLOADS = {
    q(PYLD, "eiCreateTender"): "EiCreateTender",
    q(PYLD, "eiDistributeTender"): "EiDistributeTender",
    q(PYLD, "eiCancelTender"): "EiCancelTender",
    q(PYLD, "eiRequestTender"): "EiRequestTender",
    q(PYLD, "eiCreateTransaction"): "EiCreateTransaction",
    q(PYLD, "eiRequestTransaction"): "EiRequestTransaction",
    q(TEMIX, "eiRequestPosition"): "EiRequestPosition",
    q(TEMIX, "eiExerciseOption"): "EiExerciseOption",
}


def operations_of(endpoint: str) -> dict[str, str]:
    """payload tag -> operation name, for one endpoint."""
    return {tag: name for tag, name in PAYLOADS.items() if OPERATIONS[name].endpoint == endpoint}


SCOPE_MARK = b"\n<!-- scope "


def logged_body(payload: etree._Element, scope: DistributionScope = DistributionScope()) -> bytes:
    """What the request log keeps of a request: the payload as serialised, and the
    distribution scope header if any (the same payload to another scope is another request)."""
    body = etree.tostring(payload)
    return body if scope == DistributionScope() else body + SCOPE_MARK + repr(scope).encode() + b" -->"


def canonical_digest(body: bytes) -> bytes:
    """Digest of a logged body's payload in C14N 2.0 form with rewritten prefixes (the same
    request sent with other prefixes or indentation is still the same request), and of its
    scope. Rows logged before migration 0010 kept this digest instead of the body."""
    payload, _, scope = body.partition(SCOPE_MARK)
    canonical = etree.canonicalize(payload.decode(), rewrite_prefixes=True, strip_text=True)
    digest = hashlib.sha256(canonical.encode()).digest()
    return hashlib.sha256(digest + scope.removesuffix(b" -->")).digest() if scope else digest


def same_request(prior: requests.LoggedRequest, body: bytes) -> bool:
    """Whether a logged request and a retry's body are the same request (canonicalised only
    when the bytes differ: retries are rare, byte-identical ones the rule)."""
    if prior.request_body is not None:
        return prior.request_body == body or canonical_digest(prior.request_body) == canonical_digest(body)
    return prior.body_digest == canonical_digest(body)


class Dispatcher:
    def __init__(
        self,
        engine,
        schemas: SchemaSet,
        authenticator: Authenticator,
        market_of: Callable[[str], MarketContext],
        max_items: int = 1000,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self.engine = engine
        self.schemas = schemas
        self.authenticator = authenticator
        self.market_of = market_of
        self.max_items = max_items
        self.clock = clock

    def handle(self, header: list | None, payload: etree._Element) -> etree._Element:
        """The reply element for a schema-valid payload; raises SoapFault to refuse."""
        try:
            return self._handle(header, payload)
        except DatabaseUnavailableError as error:
            raise DatabaseUnavailableFault(error.reason, committing=error.committing) from error

    def _handle(self, header: list | None, payload: etree._Element) -> etree._Element:
        name = PAYLOADS.get(payload.tag)
        if name is None:
            raise UnknownOperationFault(f"No operation takes {payload.tag}")
        check_bounds(header, payload)
        operation = OPERATIONS[name]
        token = read_username_token(header)
        scope = read_distribution_scope(header, self.schemas) if name == "EiDistributeTender" else DistributionScope()
        now = self.clock()
        refusal = None
        with UnitOfWork(self.engine) as uow:
            party_id = self.authenticator.authenticate(uow, token, now)
            check_speaks_for(party_id, payload)
            request = h.Request(uow, party_id, payload, now, self.market_of, self.max_items, scope)
            try:
                reply = operation.handler(request)
                if operation.idempotent:
                    requests.queue_answer(
                        uow, party_id, request.request_id, name, logged_body(payload, scope), etree.tostring(reply)
                    )
                self.schemas.check_response(reply)
                uow.commit()  # sends the queued writes: a refusal or an earlier answer shows here
                return reply
            except TemixError as refused:
                refusal = self._refusal(operation, request, refused)
            except requests.AnsweredFirstError:
                pass
        # Rolled back: a state-changing request was refused (its writes undone), or an answer
        # under its requestID was logged first (a retry). Settle it in a second transaction.
        with UnitOfWork(self.engine) as uow:
            self.authenticator.authenticate(uow, token, now)  # remembers the nonce again
            reply = self._settle(operation, replace(request, uow=uow), refusal)
            self.schemas.check_response(reply)
            uow.commit()
        return reply

    def _settle(self, operation: Operation, request: h.Request, refusal: etree._Element | None) -> etree._Element:
        """The refusal, logged as the answer; or the answer logged first, if it was for the
        same request; or 463 if the requestID was used for another. A read's refusal is not
        logged (reads never are): its requestID stays free."""
        if not operation.idempotent:
            return refusal
        body = logged_body(request.payload, request.scope)
        if refusal is not None and requests.record(
            request.conn, request.party_id, request.request_id, operation.name, body, etree.tostring(refusal)
        ):
            return refusal
        prior = requests.find(request.conn, request.party_id, request.request_id)
        if prior.operation != operation.name or not same_request(prior, body):
            return self._refusal(
                operation,
                request,
                RequestIdReusedError(f"requestID {request.request_id!r} was already used for a different request"),
            )
        return etree.fromstring(prior.response)

    @staticmethod
    def _refusal(operation: Operation, request: h.Request, error: TemixError) -> etree._Element:
        log.info("%s by %s refused: %s %s", operation.name, request.party_id, error.response_code, error.description)
        response = m.ei_response(request.request_id, error.response_code, error.description)
        return operation.reply(request, response)


def check_speaks_for(party_id: str, payload: etree._Element) -> None:
    """The authenticated party must be the payload's partyID and requestorPartyID."""
    for tag in (q(EI, "partyID"), q(EI, "requestorPartyID")):
        named = payload.find(tag)
        if named is not None and (named.text or "").strip() != party_id:
            local = etree.QName(tag).localname
            raise ImpersonationFault(
                f"Authenticated as {party_id!r} but {local} is {(named.text or '').strip()!r}"
            )
