"""Writers: results -> reply elements, in the schemas' order, with every prefix declared once
on the reply root; list items are the stored products, re-rendered where they differ."""

from __future__ import annotations

from decimal import Decimal

from lxml import etree

from service import pipeline
from service.domain.commands import (
    CreatedTender,
    CreatedTransaction,
    ShownTender,
    ShownTransaction,
    TenderList,
    TransactionList,
)
from service.domain.tenders import Side
from service.soap.ns import EI, EMIX, NSMAP, POWER, q
from service.soap.writers import Answer

OPERATIONS = pipeline.OPERATIONS
DECLARED = "".join(f' xmlns:{prefix}="{uri}"' for prefix, uri in NSMAP.items())
OK = "<ei:eiResponse><ei:responseCode>200</ei:responseCode><ei:responseDescription>OK</ei:responseDescription><ei:refID>r1</ei:refID></ei:eiResponse>"
STORED = (
    b'<emix:product xmlns:emix="http://docs.oasis-open.org/ns/emix/2011/06/cts.04"'
    b' xmlns:power="http://docs.oasis-open.org/ns/emix/2011/06/power/cts.04">'
    b"<power:temixPower><emix:quantity>10</emix:quantity></power:temixPower><emix:side>sell</emix:side></emix:product>"
)


def text(element: etree._Element) -> str:
    return etree.tostring(element).decode()


def test_a_created_tender_reply_lists_the_tenders_and_echoes_a_named_counterparty_only():
    write = OPERATIONS["EiCreateTender"].write
    without = write(Answer("r1", "party-A", None), CreatedTender(("t1", "t2")))
    assert text(without) == (
        f"<pyld:eiCreatedTender{DECLARED}>{OK}<ei:partyID>party-A</ei:partyID>"
        "<ei:tenderID>t1</ei:tenderID><ei:tenderID>t2</ei:tenderID></pyld:eiCreatedTender>"
    )
    named = write(Answer("r1", "party-A", "party-B"), CreatedTender(("t1",)))
    assert [child.tag for child in named] == [q(EI, "eiResponse"), q(EI, "partyID"), q(EI, "counterPartyID"), q(EI, "tenderID")]


def test_a_created_transaction_reply_starts_with_the_counterparty():
    reply = OPERATIONS["EiCreateTransaction"].write(Answer("r1", "party-B", "party-A"), CreatedTransaction(("x1",)))
    assert text(reply) == (
        f"<pyld:eiCreatedTransaction{DECLARED}><ei:counterPartyID>party-A</ei:counterPartyID>"
        f"<ei:partyID>party-B</ei:partyID>{OK}<ei:transactionID>x1</ei:transactionID></pyld:eiCreatedTransaction>"
    )


def test_a_refusal_is_the_reply_without_a_result():
    refusal = OPERATIONS["EiDistributeTender"].write(Answer("r1", "party-A", None, "404", "No party to reach"), None)
    assert refusal.findtext(f"{q(EI, 'eiResponse')}/{q(EI, 'responseCode')}") == "404"
    assert refusal.findtext("{urn:temix:ei-ext:2026-11}recipientCount") == "0"
    assert refusal.find(q(EI, "tenderID")) is None


def test_listed_tenders_show_the_remaining_rate_in_the_partys_unit():
    shown = TenderList((ShownTender("t1", Decimal(2500), "M", STORED),), "OK: the first 1 matches")
    reply = OPERATIONS["EiRequestTender"].write(Answer("r1", "party-B", None, description=shown.description), shown)
    [item] = reply.iterfind(q(EI, "eiTender"))
    assert item.findtext(q(EI, "tenderID")) == "t1"
    assert item.findtext(f"{q(EMIX, 'product')}/{q(POWER, 'temixPower')}/{q(EMIX, 'quantity')}") == "2.5"
    assert reply.findtext(f"{q(EI, 'eiResponse')}/{q(EI, 'responseDescription')}") == "OK: the first 1 matches"


def test_listed_transactions_show_the_side_the_party_took():
    shown = TransactionList((ShownTransaction("x1", "t1", STORED), ShownTransaction("x2", "t2", STORED, Side.BUY)))
    reply = OPERATIONS["EiRequestTransaction"].write(Answer("r1", "party-B", None), shown)
    sides = [item.findtext(f"{q(EMIX, 'product')}/{q(EMIX, 'side')}") for item in reply.iterfind(q(EI, "eiTransaction"))]
    ids = [(item.findtext(q(EI, "transactionID")), item.findtext(q(EI, "tenderID"))) for item in reply.iterfind(q(EI, "eiTransaction"))]
    assert (sides, ids) == (["sell", "buy"], [("x1", "t1"), ("x2", "t2")])
