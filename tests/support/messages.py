"""Builders of real EI/SOAP messages for tests, with lxml (no text templates).

Defaults describe one tender: party A sells 10 kW at node NODE-1 for 2030-01-01 10:00-11:00Z
at 0.08 USD per kWh, in market context CTX.
"""

from __future__ import annotations

import base64
import hashlib
import os
from datetime import UTC, datetime

from lxml import etree

from service.soap.ns import (
    EI,
    EMIX,
    MIN,
    POWER,
    PYLD,
    SCALE,
    SOAP11_ENV,
    STRM,
    TEMIX,
    WSSE,
    WSSE_PASSWORD_DIGEST,
    WSSE_PASSWORD_TEXT,
    WSU,
    NSMAP,
    q,
)

CTX = "http://market.example.com/temix/ctx1"
START = "2030-01-01T10:00:00Z"


def el(tag, text=None, *children):
    node = etree.Element(tag)
    if text is not None:
        node.text = str(text)
    node.extend(c for c in children if c is not None)
    return node


def product(
    side="sell",
    quantity="10",
    price="0.08",
    start=START,
    duration="PT1H",
    node="NODE-1",
    receipt=None,
    scale="k",
    energy_scale=None,
    state="tender",
    expires=None,
    integral_only=None,
    currency="USD",
    market_context=CTX,
    uid="product-1",
):
    if receipt is None:
        interface = el(q(POWER, "pnode"), None, el(q(POWER, "node"), node))
    else:
        interface = el(
            q(POWER, "transportInterface"),
            None,
            el(q(POWER, "pointOfReceipt"), receipt),
            el(q(POWER, "pointOfDelivery"), node),
        )
    energy = None
    if energy_scale is not None:
        energy = el(
            q(POWER, "energyReal"),
            None,
            el(q(POWER, "itemDescription"), "RealEnergy"),
            el(q(POWER, "itemUnits"), "Wh"),
            el(q(SCALE, "siScaleCode"), energy_scale),
        )
    power = el(
        q(POWER, "temixPower"),
        None,
        interface,
        el(q(EMIX, "price"), None, el(q(EMIX, "value"), price)),
        el(
            q(POWER, "powerReal"),
            None,
            el(q(POWER, "itemDescription"), "RealPower"),
            el(q(POWER, "itemUnits"), "W"),
            el(q(SCALE, "siScaleCode"), scale),
            el(
                q(POWER, "powerAttributes"),
                None,
                el(q(POWER, "hertz"), "60"),
                el(q(POWER, "voltage"), "240"),
                el(q(POWER, "ac"), "true"),
            ),
        ),
        energy,
        el(q(EMIX, "quantity"), quantity),
    )
    return el(
        q(EMIX, "product"),
        None,
        el(q(MIN, "dtStart"), None, el(q(MIN, "dateTime"), start)),
        el(q(MIN, "duration"), duration),
        power,
        el(q(EMIX, "uid"), uid),
        el(q(EMIX, "transactiveState"), state),
        el(q(EMIX, "expirationDate"), expires) if expires else None,
        el(q(EMIX, "integralOnly"), integral_only) if integral_only is not None else None,
        el(q(EMIX, "currency"), currency) if currency else None,
        el(q(EMIX, "marketContext"), market_context),
        el(q(EMIX, "side"), side),
    )


def create_tender(request_id, party, counterparty, *tenders):
    """``tenders``: (tender_id, product element) pairs."""
    return el(
        q(PYLD, "eiCreateTender"),
        None,
        el(q(PYLD, "requestID"), request_id),
        el(q(EI, "partyID"), party),
        el(q(EI, "counterPartyID"), counterparty),
        *(el(q(EI, "eiTender"), None, el(q(EI, "tenderID"), tid), p) for tid, p in tenders),
    )


def distribute_tender(request_id, party, *tenders):
    return el(
        q(PYLD, "eiDistributeTender"),
        None,
        el(q(PYLD, "requestID"), request_id),
        el(q(EI, "partyID"), party),
        *(el(q(EI, "eiTender"), None, el(q(EI, "tenderID"), tid), p) for tid, p in tenders),
    )


def cancel_tender(request_id, party, *tender_ids):
    return el(
        q(PYLD, "eiCancelTender"),
        None,
        el(q(PYLD, "requestID"), request_id),
        el(q(EI, "partyID"), party),
        *(el(q(EI, "tenderID"), t) for t in tender_ids),
    )


def _intervals(intervals):
    if not intervals:
        return None
    return el(
        q(STRM, "intervals"),
        None,
        *(
            el(q(STRM, "streamInterval"), None, el(q(STRM, "uid"), text), el(q(POWER, "temixPower")))
            for text in intervals
        ),
    )


def request_tender(request_id, party, counterparties=(), market_contexts=(), tender_ids=(), intervals=()):
    return el(
        q(PYLD, "eiRequestTender"),
        None,
        el(q(PYLD, "requestID"), request_id),
        el(q(EI, "partyID"), party),
        *(el(q(EI, "counterPartyID"), c) for c in counterparties),
        el(q(EI, "requestorPartyID"), party),
        *(el(q(EMIX, "marketContext"), m) for m in market_contexts),
        *(el(q(EI, "tenderID"), t) for t in tender_ids),
        _intervals(intervals),
    )


def create_transaction(request_id, party, counterparty, *transactions):
    """``transactions``: (transaction_id, tender_id, product element) triples."""
    return el(
        q(PYLD, "eiCreateTransaction"),
        None,
        el(q(PYLD, "requestID"), request_id),
        el(q(EI, "partyID"), party),
        el(q(EI, "counterPartyID"), counterparty),
        *(
            el(q(EI, "eiTransaction"), None, el(q(EI, "transactionID"), xid), el(q(EI, "tenderID"), tid), p)
            for xid, tid, p in transactions
        ),
    )


def request_transaction(request_id, party, counterparties=(), market_contexts=(), transaction_ids=(), intervals=()):
    return el(
        q(PYLD, "eiRequestTransaction"),
        None,
        el(q(PYLD, "requestID"), request_id),
        el(q(EI, "partyID"), party),
        *(el(q(EI, "counterPartyID"), c) for c in counterparties),
        el(q(EI, "requestorPartyID"), party),
        *(el(q(EMIX, "marketContext"), m) for m in market_contexts),
        *(el(q(EI, "transactionID"), t) for t in transaction_ids),
        _intervals(intervals),
    )


def _filter_interface(node, receipt):
    """A read's interface filter: a node, a transport (receipt, node), or none."""
    if node is None:
        return None
    if receipt is None:
        return el(q(POWER, "pnode"), None, el(q(POWER, "node"), node))
    return el(q(POWER, "transportInterface"), None, el(q(POWER, "pointOfReceipt"), receipt), el(q(POWER, "pointOfDelivery"), node))


def _window(start, duration):
    return el(q(TEMIX, "window"), None, el(q(MIN, "dtStart"), None, el(q(MIN, "dateTime"), start)), el(q(MIN, "duration"), duration))


def request_position(request_id, party, start, duration, resolution=None, market_contexts=(), kind=None, node=None, receipt=None, combine=False):
    interface = _filter_interface(node, receipt)
    return el(
        q(TEMIX, "eiRequestPosition"),
        None,
        el(q(PYLD, "requestID"), request_id),
        el(q(EI, "partyID"), party),
        el(q(EI, "requestorPartyID"), party),
        *(el(q(EMIX, "marketContext"), m) for m in market_contexts),
        el(q(TEMIX, "productKind"), kind) if kind else None,
        interface,
        _window(start, duration),
        el(q(TEMIX, "resolution"), resolution) if resolution else None,
        el(q(TEMIX, "combineTransport"), "true") if combine else None,
    )


def request_book(request_id, party, market_context, kind=None, node=None, receipt=None, start=None, duration=None, depth=None):
    interface = _filter_interface(node, receipt)
    window = _window(start, duration) if start is not None else None
    return el(
        q(TEMIX, "eiRequestBook"),
        None,
        el(q(PYLD, "requestID"), request_id),
        el(q(EI, "requestorPartyID"), party),
        el(q(EMIX, "marketContext"), market_context),
        el(q(TEMIX, "productKind"), kind) if kind else None,
        interface,
        window,
        el(q(TEMIX, "depth"), str(depth)) if depth is not None else None,
    )


def username_token(user, password, digest=False, nonce=None, created=None):
    if not digest:
        return el(
            q(WSSE, "UsernameToken"),
            None,
            el(q(WSSE, "Username"), user),
            _password(password, WSSE_PASSWORD_TEXT),
        )
    nonce = nonce if nonce is not None else os.urandom(16)
    created = created or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    digest_value = base64.b64encode(hashlib.sha1(nonce + created.encode() + password.encode()).digest()).decode()
    return el(
        q(WSSE, "UsernameToken"),
        None,
        el(q(WSSE, "Username"), user),
        _password(digest_value, WSSE_PASSWORD_DIGEST),
        el(q(WSSE, "Nonce"), base64.b64encode(nonce).decode()),
        el(q(WSU, "Created"), created),
    )


def _password(text, kind):
    node = el(q(WSSE, "Password"), text)
    node.set("Type", kind)
    return node


def distribution_scope(groups=(), areas=()):
    """The temix:distributionScope SOAP header of EiDistributeTender."""
    return el(
        q(TEMIX, "distributionScope"),
        None,
        *(el(q(TEMIX, "group"), g) for g in groups),
        *(el(q(TEMIX, "serviceArea"), a) for a in areas),
    )


WSA_ACTION = "{http://www.w3.org/2005/08/addressing}Action"


def wsa_action(action="EiCreateTender", **soap_attributes):
    """A WS-Addressing Action header entry with SOAP 1.1 attributes (mustUnderstand, actor):
    a header the service does not process."""
    entry = etree.Element(WSA_ACTION, {q(SOAP11_ENV, name): value for name, value in soap_attributes.items()})
    entry.text = action
    return entry


def envelope(payload, token=None, headers=()) -> bytes:
    """``headers``: more SOAP header entries, after wsse:Security."""
    env = etree.Element(q(SOAP11_ENV, "Envelope"), nsmap={"soap": SOAP11_ENV, **NSMAP})
    if token is not None or headers:
        header = etree.SubElement(env, q(SOAP11_ENV, "Header"))
        if token is not None:
            etree.SubElement(header, q(WSSE, "Security")).append(token)
        header.extend(headers)
    etree.SubElement(env, q(SOAP11_ENV, "Body")).append(payload)
    return etree.tostring(env, xml_declaration=True, encoding="UTF-8")


def request_market_context(request_id, party, *market_contexts, with_party=True):
    """pyld:eiRequestEiMarketContext (its ei:partyID is optional in CTS)."""
    return el(
        q(PYLD, "eiRequestEiMarketContext"),
        None,
        el(q(PYLD, "requestID"), request_id),
        *[el(q(EMIX, "marketContext"), uri) for uri in market_contexts],
        el(q(EI, "partyID"), party) if with_party else None,
    )


# --- registration (/EiRegistration) -----------------------------------------------------------


def registration_info(market_contexts=(), groups=(), areas=(), roles=(), password=None, text_only=None):
    info = el(q(TEMIX, "registrationInfo"))
    info.extend(el(q(EMIX, "marketContext"), uri) for uri in market_contexts)
    info.extend(el(q(TEMIX, "group"), name) for name in groups)
    info.extend(el(q(TEMIX, "serviceArea"), name) for name in areas)
    info.extend(el(q(TEMIX, "role"), name) for name in roles)
    if password is not None:
        info.append(el(q(TEMIX, "initialPassword"), password))
    if text_only is not None:
        info.append(el(q(TEMIX, "textOnly"), "true" if text_only else "false"))
    return info


def create_party_registration(request_id, registree=None, **info):
    """EiCreatePartyRegistration (sent as the registrar: call it with as_party=)."""
    return el(
        q(PYLD, "eiCreatePartyRegistration"), None,
        el(q(PYLD, "requestID"), request_id),
        el(q(EI, "registreePartyID"), registree) if registree is not None else None,
        registration_info(**info),
    )


def request_party_registration(request_id, requestor, registree, registrar=None, registration_ids=(), intervals=()):
    return el(
        q(PYLD, "eiRequestPartyRegistration"), None,
        el(q(PYLD, "requestID"), request_id),
        el(q(EI, "registreePartyID"), registree),
        el(q(EI, "registrarPartyID"), registrar) if registrar is not None else None,
        el(q(EI, "requestorPartyID"), requestor),
        *(el(q(EI, "registrationID"), rid) for rid in registration_ids),
        _intervals(intervals),
    )


def cancel_party_registration(request_id, registrar, registree, *registration_ids):
    return el(
        q(PYLD, "eiCancelPartyRegistration"), None,
        el(q(PYLD, "requestID"), request_id),
        el(q(EI, "registreePartyID"), registree),
        el(q(EI, "registrarPartyID"), registrar),
        *(el(q(EI, "registrationID"), rid) for rid in registration_ids),
    )
