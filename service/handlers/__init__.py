"""What every operation handler shares: the request it gets, the replies it builds.

One module per group of EI operations (tenders, transactions, positions); each handler reads
the payload, asks the domain, saves, and builds the reply, inside the request's unit of work
(see ``service.dispatch``). A refused request raises a TemixError, which the dispatcher
turns into the operation's reply with the error's response code, after undoing its writes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from datetime import datetime

from lxml import etree

from service.domain.markets import MarketContext
from service.soap import mapping as m
from service.soap.ns import EI, EMIX, PYLD, STRM, TEMIX, q
from service.soap.scope import DistributionScope
from service.store.narrowing import Narrowing
from service.store.uow import UnitOfWork


@dataclass(frozen=True)
class Request:
    """What every handler gets: the authenticated party, the payload, the server clock."""

    uow: UnitOfWork
    party_id: str
    payload: etree._Element
    now: datetime
    market_of: Callable[[str], MarketContext]
    max_items: int
    scope: DistributionScope = DistributionScope()  # temix:distributionScope header

    @property
    def conn(self):
        """The SQLAlchemy connection, inside the request's transaction."""
        return self.uow.conn

    @cached_property
    def request_id(self) -> str:
        return m.request_id_of(self.payload)

    def texts(self, tag: str) -> tuple[str, ...]:
        return tuple(m.texts(self.payload, tag))

    def text(self, tag: str) -> str | None:
        found = m.child(self.payload, tag)
        return (found.text or "").strip() if found is not None else None


def reply_created_tender(req: Request, response, tender_ids=()) -> etree._Element:
    children = [response, m.element(q(EI, "partyID"), req.party_id)]
    counterparty = req.text(q(EI, "counterPartyID"))
    if counterparty is not None:
        children.append(m.element(q(EI, "counterPartyID"), counterparty))
    children += m.ids(q(EI, "tenderID"), tender_ids)
    return m.element(q(PYLD, "eiCreatedTender"), None, *children)


def reply_canceled_tender(req: Request, response) -> etree._Element:
    children = [response, m.element(q(EI, "partyID"), req.party_id)]
    counterparty = req.text(q(EI, "counterPartyID"))
    if counterparty is not None:
        children.append(m.element(q(EI, "counterPartyID"), counterparty))
    return m.element(q(PYLD, "eiCanceledTender"), None, *children)


def reply_tenders(req: Request, response, items=()) -> etree._Element:
    return m.element(q(PYLD, "eiReplyTender"), None, response, *items)


def reply_distributed_tender(req: Request, response, recipients=0, tender_ids=()) -> etree._Element:
    return m.element(
        q(TEMIX, "eiDistributedTender"),
        None,
        response,
        m.element(q(EI, "partyID"), req.party_id),
        m.element(q(TEMIX, "recipientCount"), str(recipients)),
        *m.ids(q(EI, "tenderID"), tender_ids),
    )


def reply_created_transaction(req: Request, response, transaction_ids=()) -> etree._Element:
    return m.element(
        q(PYLD, "eiCreatedTransaction"),
        None,
        m.element(q(EI, "counterPartyID"), req.text(q(EI, "counterPartyID")) or ""),
        m.element(q(EI, "partyID"), req.party_id),
        response,
        *m.ids(q(EI, "transactionID"), transaction_ids),
    )


def reply_transactions(req: Request, response, items=()) -> etree._Element:
    return m.element(q(PYLD, "eiReplyTransaction"), None, response, *items)


def reply_positions(req: Request, response, items=()) -> etree._Element:
    return m.element(
        q(TEMIX, "eiReplyPosition"), None, response, m.element(q(EI, "partyID"), req.party_id), *items
    )


def reply_exercised_option(req: Request, response, transaction_ids=()) -> etree._Element:
    return m.element(
        q(TEMIX, "eiExercisedOption"),
        None,
        response,
        m.element(q(EI, "partyID"), req.party_id),
        m.element(q(EI, "counterPartyID"), req.text(q(EI, "counterPartyID")) or ""),
        *m.ids(q(EI, "transactionID"), transaction_ids),
    )


def ok(req: Request, description: str = "OK") -> etree._Element:
    return m.ei_response(req.request_id, "200", description)


def truncation(found: list, limit: int) -> str:
    return f"OK: the first {limit} matches (more exist; narrow the request)" if len(found) > limit else "OK"


def narrowing(req: Request, id_tag: str) -> Narrowing:
    """The request filters. strm:intervals: each strm:streamInterval's strm:uid is an ISO 8601
    interval, 'start/end' or 'start/duration' (the CTS StreamInterval carries no time of its own)."""
    intervals = req.payload.find(q(STRM, "intervals"))
    return Narrowing(
        counterparty_ids=req.texts(q(EI, "counterPartyID")),
        market_contexts=req.texts(q(EMIX, "marketContext")),
        ids=req.texts(id_tag),
        intervals=() if intervals is None else tuple(m.iso_interval(uid) for uid in intervals.iter(q(STRM, "uid"))),
    )
