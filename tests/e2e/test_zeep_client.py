"""zeep against the running service: strict mode, WS-Security UsernameToken, SubstitutionPlugin.

Party A (PasswordDigest) tenders to party B (PasswordText); B reads and partly accepts the
tender; both read the transaction from their own side; A cancels the rest.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import zeep
from zeep.exceptions import Fault
from zeep.helpers import serialize_object
from zeep.wsse.username import UsernameToken

from tests.support import zeep_products
from service.client import SubstitutionPlugin, substitute

CTX = "http://market.example.com/temix/ctx1"
START = datetime(2030, 1, 1, 10, tzinfo=UTC)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def request_id() -> str:
    return f"req-{uuid.uuid4().hex}"


class Party:
    """A registered party and its zeep clients (PasswordDigest or PasswordText)."""

    def __init__(self, base_url: str, party_id: str, password: str, *, digest: bool):
        self.base_url = base_url
        self.party_id = party_id
        self.password = password
        self.digest = digest
        self.tenders = self.client("EiTender")
        self.transactions = self.client("EiTransaction")

    def client(self, endpoint: str, *, password: str | None = None, digest: bool | None = None):
        digest = self.digest if digest is None else digest
        return zeep.Client(
            f"{self.base_url}/{endpoint}?wsdl",
            settings=zeep.Settings(strict=True),
            wsse=UsernameToken(self.party_id, password or self.password, use_digest=digest),
            plugins=[SubstitutionPlugin()],
        )

    def standing_tenders(self, tender_id: str) -> list:
        reply = self.tenders.service.EiRequestTender(
            requestID=request_id(),
            partyID=self.party_id,
            requestorPartyID=self.party_id,
            tenderID=[tender_id],
        )
        assert reply.eiResponse.responseCode == "200", reply.eiResponse.responseDescription
        return reply.eiTender

    def transactions_named(self, transaction_id: str) -> list:
        reply = self.transactions.service.EiRequestTransaction(
            requestID=request_id(),
            partyID=self.party_id,
            requestorPartyID=self.party_id,
            transactionID=[transaction_id],
        )
        assert reply.eiResponse.responseCode == "200", reply.eiResponse.responseDescription
        return reply.eiTransaction


@pytest.fixture(scope="module")
def parties(server) -> tuple[Party, Party]:
    a, b = unique("zeep-A"), unique("zeep-B")
    server.add_party(a, "secret-A", market_contexts=(CTX,))
    server.add_party(b, "secret-B", market_contexts=(CTX,))
    return (
        Party(server.base_url, a, "secret-A", digest=True),
        Party(server.base_url, b, "secret-B", digest=False),
    )


def power_product(client: zeep.Client, interface, *, side: str, state: str, quantity: str):
    """``quantity`` kW at ``interface``, 2030-01-01 10:00Z for 1 h, at 0.08 USD per kWh, expiring at 09:00Z."""
    return zeep_products.power_product(
        client, interface, side=side, state=state, quantity=quantity, uid=unique("product"),
        expires=datetime(2030, 1, 1, 9, tzinfo=UTC),
    )


def test_a_tender_made_accepted_in_part_and_cancelled_with_zeep(parties):
    a, b = parties
    tender_id = unique("tender")

    # A tenders to buy 10 kW from B; the same request again gets the same answer.
    node = substitute(a.tenders, "power:pnode", node="NODE-1")
    create = dict(
        requestID=request_id(),
        partyID=a.party_id,
        counterPartyID=b.party_id,
        eiTender=[{
            "tenderID": tender_id,
            "emixBase": power_product(a.tenders, node, side="buy", state="tender", quantity="10"),
        }],
    )
    created = a.tenders.service.EiCreateTender(**create)
    assert created.eiResponse.responseCode == "200", created.eiResponse.responseDescription
    assert created.tenderID == [tender_id]
    assert serialize_object(a.tenders.service.EiCreateTender(**create)) == serialize_object(created)

    # B sees it, read by zeep into the derived types.
    (tender,) = b.standing_tenders(tender_id)
    assert tender.tenderID == tender_id
    assert type(tender.emixBase).__name__ == "ProductType"
    assert tender.emixBase.side == "buy"
    power = tender.emixBase.streamPayloadBase
    assert power.quantity == 10
    assert power.emixInterface.node == "NODE-1"
    assert power.price.value == Decimal("0.08")

    # B sells 4 kW of it.
    transaction_id = unique("txn")
    node = substitute(b.transactions, "power:pnode", node="NODE-1")
    accepted = b.transactions.service.EiCreateTransaction(
        requestID=request_id(),
        partyID=b.party_id,
        counterPartyID=a.party_id,
        eiTransaction=[{
            "transactionID": transaction_id,
            "tenderID": tender_id,
            "emixBase": power_product(b.transactions, node, side="sell", state="transaction", quantity="4"),
        }],
    )
    assert accepted.eiResponse.responseCode == "200", accepted.eiResponse.responseDescription
    assert accepted.transactionID == [transaction_id]

    # Each reads the transaction from its own side; 6 kW of the tender remain.
    (mine,) = b.transactions_named(transaction_id)
    assert mine.tenderID == tender_id
    assert (mine.emixBase.side, mine.emixBase.streamPayloadBase.quantity) == ("sell", 4)
    (theirs,) = a.transactions_named(transaction_id)
    assert (theirs.emixBase.side, theirs.emixBase.streamPayloadBase.quantity) == ("buy", 4)
    (rest,) = b.standing_tenders(tender_id)
    assert rest.emixBase.streamPayloadBase.quantity == 6

    # A cancels the rest: B no longer sees the tender.
    cancelled = a.tenders.service.EiCancelTender(
        requestID=request_id(), partyID=a.party_id, counterPartyID=b.party_id, tenderID=[tender_id]
    )
    assert cancelled.eiResponse.responseCode == "200", cancelled.eiResponse.responseDescription
    assert b.standing_tenders(tender_id) == []


def test_a_transport_tender_reads_back_with_its_two_nodes(parties):
    a, b = parties
    tender_id = unique("tender")
    transport = substitute(
        a.tenders, "power:transportInterface", pointOfReceipt="NODE-1", pointOfDelivery="NODE-2"
    )
    created = a.tenders.service.EiCreateTender(
        requestID=request_id(),
        partyID=a.party_id,
        counterPartyID=b.party_id,
        eiTender=[{
            "tenderID": tender_id,
            "emixBase": power_product(a.tenders, transport, side="sell", state="tender", quantity="3"),
        }],
    )
    assert created.eiResponse.responseCode == "200", created.eiResponse.responseDescription

    (tender,) = b.standing_tenders(tender_id)
    interface = tender.emixBase.streamPayloadBase.emixInterface
    assert type(interface).__name__ == "TransportInterfaceType"
    assert (interface.pointOfReceipt, interface.pointOfDelivery) == ("NODE-1", "NODE-2")


@pytest.mark.parametrize("digest", [True, False], ids=["PasswordDigest", "PasswordText"])
def test_a_wrong_password_is_a_failed_authentication_fault(parties, digest):
    a, _ = parties
    client = a.client("EiTender", password="not-the-password", digest=digest)

    with pytest.raises(Fault) as fault:
        client.service.EiRequestTender(
            requestID=request_id(), partyID=a.party_id, requestorPartyID=a.party_id
        )

    assert "FailedAuthentication" in fault.value.code


def test_the_readme_example_creates_a_tender(parties):
    a, b = parties
    base, party_a, party_b, tender_id = a.base_url, a.party_id, b.party_id, unique("tender")
    # --- README example, from here (with base, party_a, party_b and tender_id set) ----------
    client = zeep.Client(f"{base}/EiTender?wsdl", settings=zeep.Settings(strict=True),
                         wsse=UsernameToken(party_a, "secret-A", use_digest=True),
                         plugins=[SubstitutionPlugin()])
    power = substitute(client, "power:temixPower",
                       emixInterface=substitute(client, "power:pnode", node="NODE-1"),
                       price={"value": Decimal("0.08")}, quantity=Decimal("10"),
                       powerItem=substitute(client, "power:powerReal", itemDescription="RealPower",
                                            itemUnits="W", siScaleCode="k",
                                            powerAttributes={"hertz": 60, "voltage": 240, "ac": True}))
    product = substitute(client, "emix:product", dtStart={"dateTime": datetime(2030, 1, 1, 10, tzinfo=UTC)},
                         duration="PT1H", streamPayloadBase=power, uid="product-1", side="sell",
                         transactiveState="tender", marketContext="http://market.example.com/temix/ctx1")
    reply = client.service.EiCreateTender(requestID=str(uuid.uuid4()), partyID=party_a,
                                          counterPartyID=party_b,
                                          eiTender=[{"tenderID": tender_id, "emixBase": product}])
    print(reply.eiResponse.responseCode, reply.tenderID)  # 200 ['tender-...']
    # --- to here -------------------------------------------------------------------------------
    assert (reply.eiResponse.responseCode, reply.tenderID) == ("200", [tender_id])
    assert b.standing_tenders(tender_id)[0].emixBase.side == "sell"
