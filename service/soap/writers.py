"""Result -> reply element: one writer per reply, built from the parts it is made of.

Every EI reply is an ei:eiResponse and some of: the partyID, the counterPartyID the request
named, the IDs the operation made, and listed items. A writer lists its parts in schema
order; a refusal is the same reply without a result (no IDs, no items). Reply roots declare
every prefix once, so replies read ei:, emix:, power: ... not ns0:.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import astuple, dataclass, field

from lxml import etree

from service.domain.intervals import exact_duration_text
from service.soap import mapping as m
from service.soap.ns import EI, EMIX, MIN, NSMAP, TEMIX, q
from service.soap.stored import QUANTITY_PATH, SIDE_PATH, stored_products, with_quantity, with_side


@dataclass(frozen=True)
class Answer:
    """What every reply states besides the result: the response, and who it is for."""

    request_id: str
    party_id: str
    counterparty_id: str | None  # as the request named it
    code: str = "200"
    description: str = "OK"
    # other parties the request named, by tag (ei:registreePartyID, ei:registrarPartyID)
    named: dict[str, str] = field(default_factory=dict)


Part = Callable[[etree._Element, Answer, object], None]  # (reply, answer, result or None)


@dataclass(frozen=True)
class Writer:
    """Writes ``tag`` replies made of ``parts``, in order: ``writer(answer, result)``."""

    tag: str
    parts: tuple[Part, ...]

    def __call__(self, answer: Answer, result) -> etree._Element:
        node = etree.Element(self.tag, nsmap=NSMAP)
        for part in self.parts:
            part(node, answer, result)
        return node


def reply(tag: str, *parts: Part) -> Writer:
    return Writer(tag, parts)


def response(node, answer: Answer, result) -> None:
    node.append(m.ei_response(answer.request_id, answer.code, answer.description))


def party(node, answer: Answer, result) -> None:
    node.append(m.element(q(EI, "partyID"), answer.party_id))


def counterparty(node, answer: Answer, result) -> None:
    node.append(m.element(q(EI, "counterPartyID"), answer.counterparty_id or ""))


def counterparty_if_named(node, answer: Answer, result) -> None:
    if answer.counterparty_id is not None:
        counterparty(node, answer, result)


def ids(tag: str, field: str) -> Part:
    """One ``tag`` element per ID in the result's ``field``."""

    def part(node, answer: Answer, result) -> None:
        if result is not None:
            node.extend(m.ids(tag, getattr(result, field)))

    return part


def recipient_count(node, answer: Answer, result) -> None:
    node.append(m.element(q(TEMIX, "recipientCount"), str(result.recipient_count if result is not None else 0)))


def tenders(node, answer: Answer, result) -> None:
    """ei:eiTender items: each stored product shown with the rate that remains."""
    if result is None:
        return
    shown = result.tenders
    products = stored_products([tender.stored_form for tender in shown], QUANTITY_PATH)
    m.add_items(node, q(EI, "eiTender"), (q(EI, "tenderID"),), (
        ((tender.tender_id,), with_quantity(product, tender.remaining_kw, tender.rate_scale))
        for tender, product in zip(shown, products)
    ))


def transactions(node, answer: Answer, result) -> None:
    """ei:eiTransaction items: each stored product, with the side the party sees."""
    if result is None:
        return
    shown = result.transactions
    products = stored_products([transaction.stored_form for transaction in shown], SIDE_PATH)
    m.add_items(node, q(EI, "eiTransaction"), (q(EI, "transactionID"), q(EI, "tenderID")), (
        (
            (transaction.transaction_id, transaction.tender_id),
            product[0] if transaction.shown_side is None else with_side(product, transaction.shown_side),
        )
        for transaction, product in zip(shown, products)
    ))


def positions(node, answer: Answer, result) -> None:
    if result is not None:
        node.extend([m.position(key, steps) for key, steps in result.positions])


def requestor(node, answer: Answer, result) -> None:
    node.append(m.element(q(EI, "requestorPartyID"), answer.party_id))


def books(node, answer: Answer, result) -> None:
    """temix:book items: each book's product and its price levels, bids then offers."""
    for book in () if result is None else result.books:
        key = book.key
        currency = [m.element(q(EMIX, "currency"), key.currency)] if key.currency else []
        node.append(m.element(
            q(TEMIX, "book"), None,
            m.element(q(EMIX, "marketContext"), key.market_context),
            m.element(q(TEMIX, "productKind"), key.product_kind),
            m.interface_element(key.receipt_node, key.delivery_node),
            m.element(q(MIN, "dtStart"), None, m.element(q(MIN, "dateTime"), m.format_instant(key.start))),
            m.element(q(MIN, "duration"), exact_duration_text(key.end - key.start)),
            *currency,
            *(_level(q(TEMIX, "bid"), level) for level in book.bids),
            *(_level(q(TEMIX, "offer"), level) for level in book.offers),
        ))


def _level(tag: str, level) -> etree._Element:
    return m.element(
        tag, None,
        m.element(q(TEMIX, "price"), m.format_decimal(level.price_per_kwh)),
        m.element(q(TEMIX, "rate"), m.format_decimal(level.rate_kw)),
        m.element(q(TEMIX, "orders"), str(level.orders)),
    )


def market_context_terms(node, answer: Answer, result) -> None:
    """temix:marketContextTerms, one per market context of the result."""
    if result is None:
        return
    for context in result.market_contexts:
        currency = [m.element(q(EMIX, "currency"), context.currency)] if context.currency else []
        node.append(m.element(
            q(TEMIX, "marketContextTerms"),
            None,
            m.element(q(EMIX, "marketContext"), context.uri),
            m.element(q(TEMIX, "timezone"), context.timezone),
            *currency,
            m.element(q(TEMIX, "energyUnit"), context.energy_unit),
            m.element(q(TEMIX, "optionLeadTime"), context.option_lead_time),
            m.element(q(TEMIX, "optionGranularity"), context.option_granularity),
            m.element(q(TEMIX, "publishesPrices"), "true" if context.publishes_prices else "false"),
            m.element(q(EI, "publisherPartyID"), context.publisher_id),
            *([m.element(q(TEMIX, "exchangePartyID"), context.exchange_id)] if context.exchange else []),
            m.element(q(TEMIX, "settlementInterval"), context.settlement_interval),
            *_balancing(context),
        ))


def _balancing(context) -> list:
    if context.balancing_party_id is None:
        return []
    return [m.element(q(TEMIX, "balancingPartyID"), context.balancing_party_id),
            m.element(q(TEMIX, "priceGrace"), context.price_grace)]


# ---------------------------------------------------------------- registrations

REGISTREE, REGISTRAR = q(EI, "registreePartyID"), q(EI, "registrarPartyID")
# temix:registrationInfo's children, in the order of Memberships' fields
MEMBERSHIP_TAGS = (q(EMIX, "marketContext"), q(TEMIX, "group"), q(TEMIX, "serviceArea"), q(TEMIX, "role"))


def named(tag: str, *, default_to_party: bool = False) -> Part:
    """The party the request named under ``tag``, as named (or the sender, if it named none)."""

    def part(node, answer: Answer, result) -> None:
        value = answer.named.get(tag)
        if value is None and default_to_party:
            value = answer.party_id
        node.append(m.element(tag, value or ""))

    return part


def as_registrar(node, answer: Answer, result) -> None:
    node.append(m.element(REGISTRAR, answer.party_id))


def responding_party(node, answer: Answer, result) -> None:
    node.append(m.element(q(EI, "respondingPartyID"), answer.party_id))


def registration_id(node, answer: Answer, result) -> None:
    if result is not None:
        node.append(m.element(q(EI, "registrationID"), result.registration_id))


def registrations(node, answer: Answer, result) -> None:
    """temix:registration items: who, by whom, what it added (never a password), when."""
    for found in () if result is None else result.registrations:
        info = m.element(q(TEMIX, "registrationInfo"))
        for tag, names in zip(MEMBERSHIP_TAGS, astuple(found.memberships)):
            info.extend(m.element(tag, name) for name in names)
        item = m.element(
            q(TEMIX, "registration"), None,
            m.element(REGISTREE, found.registree_id), m.element(REGISTRAR, found.registrar_id), info,
            m.element(q(EI, "registrationID"), found.registration_id),
            m.element(q(TEMIX, "createdDateTime"), m.format_instant(found.created_at)),
        )
        if found.cancelled_at is not None:
            item.append(m.element(q(TEMIX, "canceledDateTime"), m.format_instant(found.cancelled_at)))
        node.append(item)
