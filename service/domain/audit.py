"""The audit trail's vocabulary: what happened (an event kind), to what (a subject), by whom
(an actor), with what details; and how an event reads as a table row or a JSON line.

Standard library only: handlers and ``temix`` commands describe events with these values, the
store writes them (``service.store.audit``). Details are plain JSON values (amounts as decimal
strings, instants as ISO 8601 UTC), and never hold a password, a hash or a secret:
``check_details`` refuses keys that say so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache

from service.domain.products import Product
from service.domain.tenders import Terms

# Event kinds. Free text in the database: a new kind is a new constant here, no migration.
TENDER_CREATED = "tender.created"
TENDER_DISTRIBUTED = "tender.distributed"
TENDER_CANCELLED = "tender.cancelled"
TENDER_FILLED = "tender.filled"  # an acceptance took some or all of its rate
TENDER_EXPIRED = "tender.expired"  # derived when read (see service.store.audit), never stored
TRANSACTION_CREATED = "transaction.created"
OPTION_EXERCISED = "option.exercised"
QUOTE_CREATED = "quote.created"
QUOTE_CANCELLED = "quote.cancelled"
REGISTRATION_CREATED = "registration.created"
REGISTRATION_CANCELLED = "registration.cancelled"
PARTY_ROLES_CHANGED = "party.roles_changed"
PARTY_PASSWORD_CHANGED = "party.password_changed"
PARTY_DISABLED = "party.disabled"
PARTY_ENABLED = "party.enabled"
PARTY_WSSECURITY_SET = "party.wssecurity_set"
PARTY_CALLBACK_SET = "party.callback_set"  # its callback URL set, changed or cleared
CERTIFICATE_BOUND = "certificate.bound"
CERTIFICATE_REMOVED = "certificate.removed"
SERVER_KEY_ROTATED = "server_key.rotated"
PARTY_ADDED = "party.added"
PARTY_ENROLLED = "party.enrolled"
PARTY_UNENROLLED = "party.unenrolled"
MARKET_CONTEXT_ADDED = "market_context.added"
MARKET_CONTEXT_SET = "market_context.set"
SETTLEMENT_RUN = "settlement.run"  # temix settle, temix serve --settle-every
DELIVERY_REPORTED = "delivery.reported"  # one per temix:eiReportDelivery, with its counts
DELIVERY_IMPORTED = "delivery.imported"  # one per `temix delivery import`, with its counts

CLOCK = "clock"  # the actor of what time does (expiry)
_SECRET_WORDS = ("password", "secret", "hash", "nonce", "private")


def operator(command: str) -> str:
    """The actor of a change made with ``temix COMMAND``, e.g. ``operator:party add``."""
    return f"operator:{command}"


@dataclass(frozen=True)
class Subject:
    """What an event is about: the party whose object it is (a tender's maker, a transaction's
    acceptor, the party an operator changed), the other party, and the IDs concerned."""

    party_id: str | None = None
    counterparty_id: str | None = None
    tender_id: str | None = None
    transaction_id: str | None = None


@dataclass(frozen=True)
class AuditEvent:
    """One event as read back."""

    at: datetime
    actor: str
    request_id: str | None
    kind: str
    subject: Subject
    details: dict = field(default_factory=dict)


def check_details(details: dict) -> dict:
    """The details, refused (ValueError) if a key names a password, hash or secret: the
    audit trail is read by people who must never see one."""
    for key, value in details.items():
        if _names_a_secret(key):
            raise ValueError(f"audit details must not carry {key!r}")
        if isinstance(value, dict):
            check_details(value)
    return details


@lru_cache(maxsize=1024)  # the same few keys, event after event (a settlement run's 10^5)
def _names_a_secret(key: str) -> bool:
    return any(word in key.lower() for word in _SECRET_WORDS)


def instant(at: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, to the second unless finer."""
    if at is None:
        return None
    text = at.astimezone(UTC).isoformat()
    return text.removesuffix("+00:00") + "Z"


def amount(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def terms_details(terms: Terms) -> dict:
    """What a tender or transaction agrees: side, interface, market context, interval,
    price per kWh and rate in kW."""
    details = {
        "side": terms.side.value,
        "market_context": terms.market_context,
        "delivery_node": terms.interface.delivery_node,
        "start": instant(terms.interval.start),
        "end": instant(terms.interval.end),
        "price_per_kwh": amount(terms.price_per_kwh),
        "quantity_kw": amount(terms.quantity_kw),
    }
    if terms.interface.receipt_node:
        details["receipt_node"] = terms.interface.receipt_node
    if terms.currency:
        details["currency"] = terms.currency
    return details


def product_details(product: Product) -> dict:
    """A tender's terms, and what else it states: quote, integral only, expiry, option."""
    details = terms_details(product.terms)
    if product.is_quote:
        details["quote"] = True
    if product.integral_only:
        details["integral_only"] = True
    if product.expires_at is not None:
        details["expires_at"] = instant(product.expires_at)
    if product.option is not None:
        details["option"] = {
            "type": product.option.option_type.value,
            "holder_side": product.option.holder_side.value,
            "strike_per_kwh": amount(product.option.strike_per_kwh),
        }
    return details


# --- reading ---------------------------------------------------------------------------------

TABLE_HEADER = ("TIME", "ACTOR", "REQUEST", "EVENT", "PARTY", "COUNTERPARTY", "TENDER", "TRANSACTION", "DETAILS")


def as_row(event: AuditEvent) -> tuple[str, ...]:
    """The event as table cells ('-' for none); details as compact key=value pairs."""
    subject = event.subject
    cells = (
        instant(event.at), event.actor, event.request_id, event.kind,
        subject.party_id, subject.counterparty_id, subject.tender_id, subject.transaction_id,
    )
    return tuple(cell or "-" for cell in cells) + (_compact(event.details) or "-",)


def _compact(details: dict) -> str:
    parts = []
    for key, value in details.items():
        if isinstance(value, dict):
            value = "{" + _compact(value) + "}"
        elif isinstance(value, list | tuple):
            value = ",".join(map(str, value))
        elif isinstance(value, bool):
            value = "yes" if value else "no"
        parts.append(f"{key}={value}")
    return " ".join(parts)


def as_json(event: AuditEvent) -> str:
    """The event as one JSON object on one line (keys in a fixed order)."""
    subject = event.subject
    return json.dumps(
        {
            "at": instant(event.at),
            "actor": event.actor,
            "request_id": event.request_id,
            "kind": event.kind,
            "party_id": subject.party_id,
            "counterparty_id": subject.counterparty_id,
            "tender_id": subject.tender_id,
            "transaction_id": subject.transaction_id,
            "details": event.details,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )
