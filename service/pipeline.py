"""The one table of operations, and the way every request takes through it.

A request: check sizes, parse the token, read the header entries its operation understands,
authenticate, check who speaks, read the payload into a command, handle it, write the result
as the reply, log it, validate it, commit. One request = one unit of work.

State-changing operations are idempotent on (party, requestID): the first answer is logged
with the request, in the same transaction as the writes (sent with its COMMIT), and given
again, byte for byte, to any retry; a different request under the same requestID is refused.
A refused request's writes are rolled back and its refusal is logged in a second transaction
(the first wrote nothing), which keeps the common, accepted path free of savepoints. Reads
are never logged.

Adding an operation is one row below, with its reader (``service.soap.readers``), handler
(``service.handlers``) and writer (``service.soap.writers``).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from lxml import etree

from service.auth.certificates import PLAIN, Transport
from service.auth.wssecurity import Authenticator, read_username_token
from service.domain.errors import RequestIdReusedError, TemixError
from service.domain.markets import MarketContext
from service.handlers import Context, NewCredentials, deliveries, exchange, markets, options, positions, quotes, registrations, tenders, transactions
from service.observe import current
from service.soap import deliveries as wd
from service.soap import mapping as m
from service.soap import quotes as wq
from service.soap import readers
from service.soap import writers as w
from service.soap.bounds import check_bounds
from service.soap.faults import DatabaseUnavailableFault, ImpersonationFault, UnknownOperationFault
from service.soap.ns import EI, PYLD, TEMIX, WSSE, q
from service.soap.schema import SchemaSet
from service.soap.scope import SCOPE, read_distribution_scope
from service.soap.stored import StoredForms
from service.store.db import DatabaseUnavailableError
from service.store.requests import AnsweredFirstError, LoggedRequest
from service.store.uow import UnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Header:
    """A SOAP header entry an operation understands: its tag and how it is read (a SOAP
    fault if it is wrong) from the header entries."""

    tag: str
    read: Callable[[list[etree._Element] | None, SchemaSet], object]


@dataclass(frozen=True)
class Operation:
    name: str
    request: str  # the payload element's tag
    endpoint: str
    read: Callable  # (payload, readers.Reading) -> command
    handle: Callable  # (command, uow, Context) -> result
    write: w.Writer  # (Answer, result or None) -> reply element
    idempotent: bool
    headers: tuple[Header, ...] = ()  # understood besides wsse:Security
    speakers: tuple[str, ...] = (q(EI, "partyID"), q(EI, "requestorPartyID"))  # must name the authenticated party
    secrets: tuple[str, ...] = ()  # tags the request log keeps only as a keyed digest
    echoes: tuple[str, ...] = ()  # parties the request names that its reply names again

    @property
    def reply(self) -> str:
        return self.write.tag


DISTRIBUTION_SCOPE = Header(SCOPE, read_distribution_scope)

TABLE = (
    Operation(
        "EiCreateTender", q(PYLD, "eiCreateTender"), "EiTender",
        readers.create_tender, tenders.create_tender,
        w.reply(q(PYLD, "eiCreatedTender"), w.response, w.party, w.counterparty_if_named, w.ids(q(EI, "tenderID"), "tender_ids")),
        idempotent=True,
    ),
    Operation(
        "EiDistributeTender", q(PYLD, "eiDistributeTender"), "EiTender",
        readers.distribute_tender, tenders.distribute_tender,
        w.reply(q(TEMIX, "eiDistributedTender"), w.response, w.party, w.recipient_count, w.ids(q(EI, "tenderID"), "tender_ids")),
        idempotent=True,
        headers=(DISTRIBUTION_SCOPE,),
    ),
    Operation(
        "EiCancelTender", q(PYLD, "eiCancelTender"), "EiTender",
        readers.cancel_tender, tenders.cancel_tender,
        w.reply(q(PYLD, "eiCanceledTender"), w.response, w.party, w.counterparty_if_named),
        idempotent=True,
    ),
    Operation(
        "EiRequestTender", q(PYLD, "eiRequestTender"), "EiTender",
        readers.request_tender, tenders.request_tender,
        w.reply(q(PYLD, "eiReplyTender"), w.response, w.tenders),
        idempotent=False,
    ),
    Operation(
        "EiCreateTransaction", q(PYLD, "eiCreateTransaction"), "EiTransaction",
        readers.create_transaction, transactions.create_transaction,
        w.reply(q(PYLD, "eiCreatedTransaction"), w.counterparty, w.party, w.response, w.ids(q(EI, "transactionID"), "transaction_ids")),
        idempotent=True,
    ),
    Operation(
        "EiRequestTransaction", q(PYLD, "eiRequestTransaction"), "EiTransaction",
        readers.request_transaction, transactions.request_transaction,
        w.reply(q(PYLD, "eiReplyTransaction"), w.response, w.transactions),
        idempotent=False,
    ),
    Operation(
        "EiRequestPosition", q(TEMIX, "eiRequestPosition"), "EiTransaction",
        readers.request_position, positions.request_position,
        w.reply(q(TEMIX, "eiReplyPosition"), w.response, w.party, w.positions),
        idempotent=False,
    ),
    Operation(
        "EiExerciseOption", q(TEMIX, "eiExerciseOption"), "EiTransaction",
        readers.exercise_option, options.exercise_option,
        w.reply(q(TEMIX, "eiExercisedOption"), w.response, w.party, w.counterparty, w.ids(q(EI, "transactionID"), "transaction_ids")),
        idempotent=True,
    ),
    Operation(
        "EiCreateQuote", q(PYLD, "eiCreateQuote"), "EiQuote",
        wq.create_quote, quotes.create_quote,
        w.reply(q(PYLD, "eiCreatedQuote"), w.response, wq.subscriber, wq.publisher, w.ids(q(EI, "quoteID"), "quote_ids")),
        idempotent=True,
        headers=(DISTRIBUTION_SCOPE,),
        speakers=(q(EI, "publisherPartyID"),),
    ),
    Operation(
        "EiCancelQuote", q(PYLD, "eiCancelQuote"), "EiQuote",
        wq.cancel_quote, quotes.cancel_quote,
        w.reply(q(PYLD, "eiCanceledQuote"), w.response, wq.subscriber_if_named, wq.publisher),
        idempotent=True,
        speakers=(q(EI, "publisherPartyID"),),
    ),
    Operation(
        "EiRequestQuote", q(PYLD, "eiRequestQuote"), "EiQuote",
        wq.request_quote, quotes.request_quote,
        w.reply(q(PYLD, "eiReplyQuote"), w.response, wq.quotes),
        idempotent=False,
    ),
    Operation(
        "EiRequestEiMarketContext", q(PYLD, "eiRequestEiMarketContext"), "EiMarketContext",
        readers.request_market_context, markets.request_market_context,
        w.reply(q(TEMIX, "eiReplyMarketContext"), w.response, w.party, w.market_context_terms),
        idempotent=False,
    ),
    Operation(
        "EiCreatePartyRegistration", q(PYLD, "eiCreatePartyRegistration"), "EiRegistration",
        readers.create_party_registration, registrations.create_registration,
        w.reply(q(PYLD, "eiCreatedPartyRegistration"), w.response, w.as_registrar, w.registration_id, w.named(w.REGISTREE, default_to_party=True)),
        idempotent=True,
        secrets=(readers.INITIAL_PASSWORD,),
        echoes=(w.REGISTREE,),
    ),
    Operation(
        "EiRequestPartyRegistration", q(PYLD, "eiRequestPartyRegistration"), "EiRegistration",
        readers.request_party_registration, registrations.request_registration,
        w.reply(q(PYLD, "eiReplyPartyRegistration"), w.registrations, w.response),
        idempotent=False,
    ),
    Operation(
        "EiCancelPartyRegistration", q(PYLD, "eiCancelPartyRegistration"), "EiRegistration",
        readers.cancel_party_registration, registrations.cancel_registration,
        w.reply(q(PYLD, "eiCanceledPartyRegistration"), w.responding_party, w.named(w.REGISTREE), w.named(w.REGISTRAR), w.response),
        idempotent=True,
        echoes=(w.REGISTREE, w.REGISTRAR),
    ),
    Operation(
        "EiReportDelivery", q(TEMIX, "eiReportDelivery"), "EiDelivery",
        wd.report_delivery, deliveries.report_delivery,
        w.reply(q(TEMIX, "eiReportedDelivery"), w.response, w.party, wd.reported_counts),
        idempotent=True,
    ),
    Operation(
        "EiCreateDelivery", q(PYLD, "eiCreateDelivery"), "EiDelivery",
        wd.create_delivery, deliveries.create_delivery,
        w.reply(q(PYLD, "eiCreatedDelivery"), w.response, wd.deliveries),
        idempotent=False,
    ),
    Operation(
        "EiRequestBook", q(TEMIX, "eiRequestBook"), "EiTender",
        readers.request_book, exchange.request_book,
        w.reply(q(TEMIX, "eiReplyBook"), w.response, w.requestor, w.books),
        idempotent=False,
    ),
)

OPERATIONS = {operation.name: operation for operation in TABLE}
PAYLOADS = {operation.request: operation.name for operation in TABLE}  # the payload selects the operation
REPLY_TAGS = {operation.reply for operation in TABLE}
ENDPOINTS = tuple(dict.fromkeys(operation.endpoint for operation in TABLE))
SECURITY = q(WSSE, "Security")
RESPONSE_CODE = f"{q(EI, 'eiResponse')}/{q(EI, 'responseCode')}"  # every reply's, first children
FORMS = StoredForms()


def understood() -> dict[str, frozenset[str] | None]:
    """Header entry tag -> the payload tags it is understood with (None: every one)."""
    found: dict[str, set[str]] = {}
    for operation in TABLE:
        for header in operation.headers:
            found.setdefault(header.tag, set()).add(operation.request)
    return {SECURITY: None, **{tag: frozenset(payloads) for tag, payloads in found.items()}}


UNDERSTOOD = understood()


def operations_of(endpoint: str) -> dict[str, str]:
    """payload tag -> operation name, for one endpoint."""
    return {operation.request: operation.name for operation in TABLE if operation.endpoint == endpoint}


HEADER_MARK = b"\n<!-- scope "


def logged_body(
    payload: etree._Element, headers: dict | None = None, secrets: tuple[str, ...] = (), key: bytes = b""
) -> bytes:
    """What the request log keeps of a request: the payload as serialised, and the value of
    each understood header entry that says something (the same payload to another
    distribution scope is another request). The text of each ``secrets`` element (a new
    party's password) is kept only as its HMAC-SHA256 under ``key`` (derived from the server
    key): a retry is still recognised, and the log holds neither the password nor a hash
    that can be tried offline without the key."""
    if secrets and next(payload.iter(*secrets), None) is not None:
        payload = etree.fromstring(etree.tostring(payload))
        for element in payload.iter(*secrets):
            mac = hmac.new(key, (element.text or "").encode(), "sha256").hexdigest()
            element.text = f"hmac-sha256:{mac}"
    body = etree.tostring(payload)
    for value in (headers or {}).values():
        if value:
            body += HEADER_MARK + repr(value).encode() + b" -->"
    return body


def canonical_digest(body: bytes) -> bytes:
    """Digest of a logged body's payload in C14N 2.0 form with rewritten prefixes (the same
    request sent with other prefixes or indentation is still the same request), and of its
    header values. Rows logged before migration 0010 kept this digest instead of the body."""
    payload, _, scope = body.partition(HEADER_MARK)
    canonical = etree.canonicalize(payload.decode(), rewrite_prefixes=True, strip_text=True)
    digest = hashlib.sha256(canonical.encode()).digest()
    return hashlib.sha256(digest + scope.removesuffix(b" -->")).digest() if scope else digest


def same_request(prior: LoggedRequest, body: bytes) -> bool:
    """Whether a logged request and a retry's body are the same request (canonicalised only
    when the bytes differ: retries are rare, byte-identical ones the rule)."""
    if prior.request_body is not None:
        return prior.request_body == body or canonical_digest(prior.request_body) == canonical_digest(body)
    return prior.body_digest == canonical_digest(body)


class Pipeline:
    def __init__(
        self,
        engine,
        schemas: SchemaSet,
        authenticator: Authenticator,
        market_of: Callable[[str], MarketContext],
        max_items: int = 1000,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        credentials: NewCredentials | None = None,
    ):
        """``credentials``: how a registrar's initial password for a new party is stored;
        None (the default) refuses them."""
        self.credentials = credentials
        # derived from the server key, not the sealing key itself: one key, one purpose
        server_key = authenticator.keys.current if authenticator.keys else b""
        self.log_key = hmac.digest(server_key, b"temix request-log secrets", "sha256")
        self.engine = engine
        self.schemas = schemas
        self.authenticator = authenticator
        self.market_of = market_of
        self.max_items = max_items
        self.clock = clock

    def handle(self, header: list | None, payload: etree._Element, transport: Transport = PLAIN) -> etree._Element:
        """The reply element for a schema-valid payload that came over ``transport``; raises
        SoapFault to refuse."""
        try:
            reply = self._handle(header, payload, transport)
        except DatabaseUnavailableError as error:
            raise DatabaseUnavailableFault(error.reason, committing=error.committing) from error
        current().code = reply.findtext(RESPONSE_CODE)
        return reply

    def _handle(self, header: list | None, payload: etree._Element, transport: Transport) -> etree._Element:
        name = PAYLOADS.get(payload.tag)
        if name is None:
            raise UnknownOperationFault(f"No operation takes {payload.tag}")
        check_bounds(header, payload, UNDERSTOOD)  # first: nothing is logged or echoed of an oversize value
        operation = OPERATIONS[name]
        token = read_username_token(header)
        headers = {entry.tag: entry.read(header, self.schemas) for entry in operation.headers}
        now = self.clock()
        request_id = current().request_id = m.request_id_of(payload)
        counterparty_id = m.child_text(payload, q(EI, "counterPartyID"))
        if counterparty_id is None:  # a quote's addressee
            counterparty_id = m.child_text(payload, q(EI, "subscriberPartyID"))
        refusal = None
        with UnitOfWork(self.engine) as uow:
            party_id = current().party = self.authenticator.authenticate(uow, token, now, transport)
            check_speaks_for(party_id, payload, operation.speakers)
            uow.audit.act_as(party_id, request_id, now)
            answer = w.Answer(request_id, party_id, counterparty_id, named=_named(payload, operation.echoes))
            try:
                command = operation.read(payload, readers.Reading(self.market_of, headers))
                ctx = Context(party_id, request_id, now, self.market_of, self.max_items, FORMS, self.credentials)
                result = operation.handle(command, uow, ctx)
                reply = operation.write(_described(answer, result), result)
                if operation.idempotent:
                    uow.requests.queue_answer(
                        party_id, request_id, name, self._logged(operation, payload, headers), etree.tostring(reply)
                    )
                self.schemas.check_response(reply)
                uow.commit()  # sends the queued writes: a refusal or an earlier answer shows here
                return reply
            except TemixError as refused:
                refusal = _refusal(operation, answer, refused)
            except AnsweredFirstError:
                pass
        # Rolled back: a state-changing request was refused (its writes undone), or an answer
        # under its requestID was logged first (a retry). Settle it in a second transaction.
        with UnitOfWork(self.engine) as uow:
            self.authenticator.authenticate(uow, token, now, transport)  # remembers the nonce again
            reply = _settle(operation, uow, answer, self._logged(operation, payload, headers), refusal)
            self.schemas.check_response(reply)
            uow.commit()
        return reply

    def _logged(self, operation: Operation, payload: etree._Element, headers: dict) -> bytes:
        return logged_body(payload, headers, operation.secrets, self.log_key)


def _named(payload: etree._Element, tags: tuple[str, ...]) -> dict[str, str]:
    """The parties a request names under ``tags`` (its reply names them again)."""
    return {tag: text for tag in tags if (text := m.child_text(payload, tag)) is not None}


def _described(answer: w.Answer, result) -> w.Answer:
    """The answer of an accepted request: 200, with what a list result says of itself."""
    description = getattr(result, "description", "OK")
    return answer if description == answer.description else replace(answer, description=description)


def _settle(operation: Operation, uow, answer: w.Answer, body: bytes, refusal) -> etree._Element:
    """The refusal, logged as the answer; or the answer logged first, if it was for the
    same request; or 463 if the requestID was used for another. A read's refusal is not
    logged (reads never are): its requestID stays free."""
    if not operation.idempotent:
        return refusal
    party_id, request_id = answer.party_id, answer.request_id
    if refusal is not None and uow.requests.record(party_id, request_id, operation.name, body, etree.tostring(refusal)):
        return refusal
    prior = uow.requests.find(party_id, request_id)
    if prior.operation != operation.name or not same_request(prior, body):
        return _refusal(
            operation,
            answer,
            RequestIdReusedError(f"requestID {request_id!r} was already used for a different request"),
        )
    return etree.fromstring(prior.response)


def _refusal(operation: Operation, answer: w.Answer, error: TemixError) -> etree._Element:
    log.info("%s by %s refused: %s %s", operation.name, answer.party_id, error.response_code, error.description)
    return operation.write(replace(answer, code=error.response_code, description=error.description), None)


def check_speaks_for(
    party_id: str, payload: etree._Element, speakers: tuple[str, ...] = (q(EI, "partyID"), q(EI, "requestorPartyID"))
) -> None:
    """The authenticated party must be the payload's partyID and requestorPartyID (a quote's
    publisherPartyID when it creates or cancels quotes)."""
    for tag in speakers:
        named = payload.find(tag)
        if named is not None and (named.text or "").strip() != party_id:
            local = etree.QName(tag).localname
            raise ImpersonationFault(
                f"Authenticated as {party_id!r} but {local} is {(named.text or '').strip()!r}"
            )
