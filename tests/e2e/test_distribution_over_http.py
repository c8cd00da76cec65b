"""EiDistributeTender through the running server: raw SOAP envelopes over HTTP, the
temix:distributionScope header included, parties and memberships set up with the ``temix``
command as an operator would (README, "Setting up a market").

The module has a market context of its own, so other tests' parties on the shared server are
never among the recipients.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
import requests

from service.soap.ns import EI, EMIX, TEMIX, q
from tests.support import messages as msg
from tests.support.soap import Reply, check_reply


class Market:
    """A market context of this module's own and its parties (password = party ID)."""

    def __init__(self, server):
        tag = uuid.uuid4().hex[:6]
        self.server = server
        self.context = f"http://e2e.example/distribution-{tag}"
        self.seller = f"rep-{tag}"
        self.north = [f"north-{i}-{tag}" for i in range(3)]  # group north; the first two in ZONE-1
        self.south = f"south-{tag}"  # ZONE-2
        self.outsider = f"outsider-{tag}"  # registered, not enrolled in the context

    def set_up(self) -> Market:
        self.server.add_market_context(self.context, currency="USD")
        self.server.add_party(self.seller, self.seller, market_contexts=(self.context,))
        for party in self.north:
            self.server.add_party(party, party, market_contexts=(self.context,), groups=("north",))
        self.server.temix("party", "enroll", self.north[0], "--service-area", "ZONE-1")
        self.server.temix("party", "enroll", self.north[1], "--service-area", "ZONE-1")
        self.server.add_party(self.south, self.south)
        self.server.temix("party", "enroll", self.south, "--market-context", self.context, "--service-area", "ZONE-2")
        self.server.add_party(self.outsider, self.outsider)
        return self

    @property
    def members(self) -> list[str]:
        return [*self.north, self.south]

    def product(self, **terms):
        return msg.product(market_context=self.context, **terms)


@pytest.fixture(scope="module")
def market(server) -> Market:
    return Market(server).set_up()


def post(server, path, payload, headers=(), party=None) -> Reply:
    party = party or payload.findtext(q(EI, "partyID"))
    data = msg.envelope(payload, msg.username_token(party, party, digest=True), headers)
    answer = requests.post(
        f"{server.base_url}{path}", data=data, headers={"Content-Type": "text/xml; charset=utf-8"}, timeout=30
    )
    return check_reply(Reply(answer.status_code, answer.content))


def distribute(market, tender_id, quantity="10", groups=(), areas=(), request_id=None) -> Reply:
    headers = [msg.distribution_scope(groups, areas)] if groups or areas else []
    payload = msg.distribute_tender(request_id or f"d-{tender_id}", market.seller, (tender_id, market.product(quantity=quantity)))
    return post(market.server, "/EiTender", payload, headers)


def visible(market, party, tender_id) -> bool:
    reply = post(market.server, "/EiTender", msg.request_tender(f"q-{uuid.uuid4().hex[:8]}", party, tender_ids=[tender_id]))
    return [t.findtext(q(EI, "tenderID")) for t in reply.payload.iter(q(EI, "eiTender"))] == [tender_id]


def accept(market, party, tender_id, quantity) -> Reply:
    xid = f"x-{uuid.uuid4().hex[:8]}"
    payload = msg.create_transaction(
        f"a-{xid}", party, market.seller,
        (xid, tender_id, market.product(side="buy", quantity=quantity, state="transaction")),
    )  # fmt: skip
    return post(market.server, "/EiTransaction", payload)


def remaining(market, tender_id) -> Decimal:
    """The remaining rate, as the seller sees its own tender (0 once it stops standing)."""
    reply = post(market.server, "/EiTender", msg.request_tender(f"q-{uuid.uuid4().hex[:8]}", market.seller, tender_ids=[tender_id]))
    shown = reply.payload.findtext(f".//{q(EMIX, 'quantity')}")
    return Decimal(shown) if shown is not None else Decimal(0)


def recipient_count(reply: Reply) -> int:
    return int(reply.payload.findtext(q(TEMIX, "recipientCount")))


def test_every_member_sees_the_tender_and_the_recipients_race_for_its_quantity(market):
    tender_id = f"offer-{uuid.uuid4().hex[:6]}"
    reply = distribute(market, tender_id, quantity="10")

    assert reply.code == "200"
    assert recipient_count(reply) == len(market.members)
    assert all(visible(market, party, tender_id) for party in market.members)
    assert not visible(market, market.outsider, tender_id)
    assert accept(market, market.outsider, tender_id, "1").code == "403"

    attempts = [party for party in market.members for _ in range(3)]  # 12 x 1.5 kW at once
    with ThreadPoolExecutor(max_workers=len(attempts)) as pool:
        codes = list(pool.map(lambda party: accept(market, party, tender_id, "1.5").code, attempts))

    assert set(codes) <= {"200", "460"}
    assert codes.count("200") == 6  # 9 kW of the 10: never more
    assert remaining(market, tender_id) == Decimal("1")


@pytest.mark.parametrize(
    ("groups", "areas", "reached"),
    [
        (["north"], [], lambda m: m.north),
        ([], ["ZONE-1"], lambda m: m.north[:2]),
        (["north"], ["ZONE-2"], None),  # nobody is both: refused
        ([], ["ZONE-1", "ZONE-2"], lambda m: [*m.north[:2], m.south]),
    ],
)
def test_the_scope_header_narrows_the_recipients_over_http(market, groups, areas, reached):
    tender_id = f"scoped-{uuid.uuid4().hex[:6]}"
    reply = distribute(market, tender_id, groups=groups, areas=areas)

    if reached is None:
        assert reply.code == "404"
        assert not visible(market, market.seller, tender_id)  # nothing was written
        return
    assert reply.code == "200"
    assert recipient_count(reply) == len(reached(market))
    for party in market.members:
        assert visible(market, party, tender_id) == (party in reached(market)), party


def test_an_invalid_scope_header_is_a_schema_fault_over_http(market):
    scope = msg.distribution_scope(["north"])
    scope.insert(0, msg.el(f"{{{TEMIX}}}serviceArea", "ZONE-1"))  # serviceArea before group: out of order
    tender_id = f"bad-{uuid.uuid4().hex[:6]}"
    payload = msg.distribute_tender(f"d-{tender_id}", market.seller, (tender_id, market.product()))

    reply = post(market.server, "/EiTender", payload, [scope])

    assert reply.status == 500 and reply.faultcode.endswith("Client.SchemaValidation")
    assert "temix:distributionScope header" in reply.faultstring and "line" in reply.faultstring
    assert not visible(market, market.seller, tender_id)


def test_enrolment_edited_with_the_cli_applies_to_later_distributions_only(market):
    late, leaving = f"late-{uuid.uuid4().hex[:6]}", market.north[2]
    market.server.add_party(late, late)
    before = f"before-{uuid.uuid4().hex[:6]}"
    assert distribute(market, before).code == "200"

    market.server.temix("party", "enroll", late, "--market-context", market.context)
    market.server.temix("party", "unenroll", leaving, "--market-context", market.context)
    after = f"after-{uuid.uuid4().hex[:6]}"
    reply = distribute(market, after)

    assert recipient_count(reply) == len(market.members)  # one in, one out
    assert not visible(market, late, before) and visible(market, late, after)
    assert visible(market, leaving, before) and not visible(market, leaving, after)
    market.server.temix("party", "unenroll", late, "--market-context", market.context)  # as it was
    market.server.temix("party", "enroll", leaving, "--market-context", market.context)


def test_a_retry_gets_the_first_reply_byte_for_byte(market):
    tender_id = f"retry-{uuid.uuid4().hex[:6]}"
    first = distribute(market, tender_id, request_id=f"retry-{tender_id}")
    again = distribute(market, tender_id, request_id=f"retry-{tender_id}")

    assert first.code == "200"
    assert again.body == first.body
