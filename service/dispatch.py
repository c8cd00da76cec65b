"""The request pipeline: authenticate, check who speaks, run the operation, validate, commit.

One request = one unit of work. State-changing operations are idempotent on
(party, requestID): the first answer is logged with the request's digest and given again,
byte for byte, to any retry; a different request under the same requestID is refused.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from lxml import etree

from service import handlers as h
from service.handlers import options, positions, tenders, transactions
from service.auth.wssecurity import Authenticator, read_username_token
from service.domain.errors import RequestIdReusedError, TemixError
from service.domain.markets import MarketContext
from service.soap import mapping as m
from service.soap.faults import ImpersonationFault, UnknownOperationFault
from service.soap.ns import EI, PYLD, TEMIX, q
from service.soap.schema import SchemaSet
from service.soap.scope import DistributionScope, read_distribution_scope
from service.store import requests
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


def body_digest(payload: etree._Element, scope: DistributionScope = DistributionScope()) -> bytes:
    """Digest of the request: the payload's C14N 2.0 form with rewritten prefixes (the same
    request sent with other prefixes or indentation is still the same request), and the
    distribution scope header if any (the same payload to another scope is another request)."""
    canonical = etree.canonicalize(etree.tostring(payload, encoding="unicode"), rewrite_prefixes=True, strip_text=True)
    digest = hashlib.sha256(canonical.encode()).digest()
    if scope != DistributionScope():
        digest = hashlib.sha256(digest + repr(scope).encode()).digest()
    return digest


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
        name = PAYLOADS.get(payload.tag)
        if name is None:
            raise UnknownOperationFault(f"No operation takes {payload.tag}")
        operation = OPERATIONS[name]
        token = read_username_token(header)
        scope = read_distribution_scope(header, self.schemas) if name == "EiDistributeTender" else DistributionScope()
        now = self.clock()
        with UnitOfWork(self.engine) as uow:
            party_id = self.authenticator.authenticate(uow.conn, token, now)
            check_speaks_for(party_id, payload)
            request = h.Request(uow.conn, party_id, payload, now, self.market_of, self.max_items, scope)
            reply = self._run(uow, operation, request)
            self.schemas.check_response(reply)
            uow.commit()
        return reply

    def _run(self, uow: UnitOfWork, operation: Operation, request: h.Request) -> etree._Element:
        if not operation.idempotent:
            return self._attempt(uow, operation, request)
        digest = body_digest(request.payload, request.scope)
        if not requests.claim(uow.conn, request.party_id, request.request_id, operation.name, digest):
            prior = requests.find(uow.conn, request.party_id, request.request_id)
            if prior.body_digest != digest or prior.operation != operation.name:
                return self._refusal(
                    operation,
                    request,
                    RequestIdReusedError(
                        f"requestID {request.request_id!r} was already used for a different request"
                    ),
                )
            return etree.fromstring(prior.response)
        reply = self._attempt(uow, operation, request)
        requests.record_response(uow.conn, request.party_id, request.request_id, etree.tostring(reply))
        return reply

    def _attempt(self, uow: UnitOfWork, operation: Operation, request: h.Request) -> etree._Element:
        try:
            with uow.savepoint():
                return operation.handler(request)
        except TemixError as refused:
            return self._refusal(operation, request, refused)

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
