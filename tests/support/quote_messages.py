"""Builders of EiQuote payloads for tests (lxml; see messages.py for products)."""

from __future__ import annotations

from service.soap.ns import EI, EMIX, PYLD, q
from tests.support.messages import _intervals, el


def create_quote(request_id, publisher, subscriber, *quotes):
    """``quotes``: (quote_id, product element or a list of them) pairs."""
    return el(
        q(PYLD, "eiCreateQuote"),
        None,
        el(q(PYLD, "requestID"), request_id),
        el(q(EI, "publisherPartyID"), publisher),
        el(q(EI, "subscriberPartyID"), subscriber),
        *(
            el(q(EI, "eiQuote"), None, el(q(EI, "quoteID"), quote_id), *(products if isinstance(products, list) else [products]))
            for quote_id, products in quotes
        ),
    )


def cancel_quote(request_id, publisher, *quote_ids, subscriber=None):
    return el(
        q(PYLD, "eiCancelQuote"),
        None,
        el(q(PYLD, "requestID"), request_id),
        el(q(EI, "subscriberPartyID"), subscriber) if subscriber is not None else None,
        el(q(EI, "publisherPartyID"), publisher),
        *(el(q(EI, "quoteID"), quote_id) for quote_id in quote_ids),
    )


def request_quote(request_id, requestor, publisher, market_contexts=(), quote_ids=(), intervals=()):
    return el(
        q(PYLD, "eiRequestQuote"),
        None,
        el(q(PYLD, "requestID"), request_id),
        el(q(EI, "requestorPartyID"), requestor),
        el(q(EI, "publisherPartyID"), publisher),
        *(el(q(EMIX, "marketContext"), m) for m in market_contexts),
        *(el(q(EI, "quoteID"), quote_id) for quote_id in quote_ids),
        _intervals(intervals),
    )
