"""Conformance: the EI request rules (one transaction per request, idempotency, who speaks,
validation, who reads what)."""

from __future__ import annotations

from lxml import etree

from service.soap.ns import EMIX, q
from service.store.tables import request_log, tender
from tests.support import messages as msg
from tests.support.conformance import count, offer


def test_a_retried_request_gets_the_first_answer_byte_for_byte_and_changes_nothing(service, engine):
    """README, Idempotency: "State-changing requests ... are idempotent on (party, `requestID`):
    a retry gets the first answer again, byte for byte, and changes nothing, even when the first
    one was refused." """
    payload = msg.create_tender("same-rid", "party-A", "party-B", ("t-once", msg.product()))
    first = service.call("/EiTender", payload)
    again = service.call("/EiTender", payload)
    assert first.code == "200"
    assert _payload_bytes(again) == _payload_bytes(first)
    assert count(engine, tender) == 1
    refused = msg.create_tender("refused-rid", "party-A", "party-B", ("t-bad", msg.product(quantity="0")))
    assert service.call("/EiTender", refused).code == "400"
    assert _payload_bytes(service.call("/EiTender", refused)) == _payload_bytes(service.call("/EiTender", refused))
    assert count(engine, tender) == 1


def test_a_requestid_used_for_another_request_is_refused(service, engine):
    """README, Idempotency: "The same `requestID` with a different request is refused (463)." """
    offer(service, "t-first", rid="rid-1")
    other = service.call("/EiTender", msg.create_tender("rid-1", "party-A", "party-B", ("t-second", msg.product())))
    assert other.code == "463", other.description
    assert count(engine, tender) == 1


def test_reads_are_not_logged_and_leave_their_requestid_free(service, engine):
    """README, Idempotency: "Read requests are not logged, answered or refused: asking again
    returns the current state, and a read's `requestID` stays free for a later write." """
    assert service.call("/EiTender", msg.request_tender("shared-rid", "party-A")).code == "200"
    assert count(engine, request_log) == 0
    offer(service, "t-after-read", rid="shared-rid")


def test_one_request_stores_all_of_its_tenders_or_none(service, engine):
    """README: "One request = one database transaction: all of a request's tenders or
    transactions are stored, or none." -- a tenderID used twice refuses the whole request."""
    offer(service, "t-used")
    both = msg.create_tender("r-both", "party-A", "party-B", ("t-new", msg.product()), ("t-used", msg.product()))
    assert service.call("/EiTender", both).code == "409"
    assert count(engine, tender) == 1


def test_the_authenticated_party_must_be_the_payloads_party(service, engine):
    """README, Authentication: "The authenticated party must be the payload's `ei:partyID` and
    `ei:requestorPartyID`." -- anything else is a Client.NotAuthorized fault, nothing written."""
    payload = msg.create_tender("r-imp", "party-B", "party-C", ("t-imp", msg.product()))
    reply = service.call("/EiTender", payload, as_party="party-A")
    assert reply.is_fault and reply.faultcode.endswith("Client.NotAuthorized")
    assert count(engine, tender) == 0


def test_a_schema_invalid_payload_is_a_client_fault_naming_the_element(service, engine):
    """README: "Every request is validated against the schemas before anything happens" and
    "Client.SchemaValidation: the payload does not validate: each error with its element path
    and line." """
    payload = msg.create_tender("r-inv", "party-A", "party-B", ("t-inv", msg.product()))
    payload.find(f".//{q(EMIX, 'side')}").text = "sideways"
    reply = service.call("/EiTender", payload)
    assert reply.is_fault and reply.faultcode.endswith("Client.SchemaValidation")
    assert "side" in reply.faultstring and "line" in reply.faultstring
    assert count(engine, tender) == 0


def test_a_rate_must_be_positive(service, engine):
    """README, EiCreateTender: "`emix:quantity` (the rate, > 0)"; 400: "rate <= 0"."""
    reply = service.call("/EiTender", msg.create_tender("r-neg", "party-A", "party-B", ("t-neg", msg.product(quantity="-1"))))
    assert reply.code == "400" and "quantity" in reply.description.lower()
    assert count(engine, tender) == 0


def test_a_party_reads_the_terms_of_the_market_contexts_it_is_enrolled_in_only(service):
    """README, EiRequestEiMarketContext: "a party reads the terms of the market contexts it is
    enrolled in; asking for another is refused with 403 ... one not registered with 462." """
    mine = service.call("/EiMarketContext", msg.request_market_context("mc-mine", "party-A", msg.CTX))
    assert mine.code == "200", mine.description
    assert service.call("/EiMarketContext", msg.request_market_context("mc-other", "party-A", "http://other.example/ctx")).code == "403"
    assert service.call("/EiMarketContext", msg.request_market_context("mc-none", "party-A", "urn:nowhere")).code == "462"


def _payload_bytes(reply) -> bytes:
    return etree.tostring(reply.payload)
